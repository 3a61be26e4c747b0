"""Signals sent by mlpipeline.

``run_failed`` is sent with ``sender=Run``, ``run`` and ``error`` when a run
fails; ``run_succeeded`` with ``sender=Run`` and ``run`` when one succeeds.
"""

from django.dispatch import Signal

__all__ = ["run_failed", "run_succeeded"]

run_failed = Signal()
run_succeeded = Signal()
