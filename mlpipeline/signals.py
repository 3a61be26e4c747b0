"""Signals sent by mlpipeline.

``run_failed`` is sent with ``sender=Run``, ``run`` and ``error`` when a run
fails; ``run_succeeded`` with ``sender=Run`` and ``run`` when one succeeds.

The registry sends, with ``sender=TrainedModel``, once the change is
committed:

- ``model_promoted`` with ``model``, ``previous`` (the model it replaced,
  or None) and ``forced_by`` (the user name of a forced promotion, else "");
- ``model_refused`` with ``model``, ``reason`` and ``active`` (the model
  that stays active, or None);
- ``model_rolled_back`` with ``model`` (active again), ``replaced`` (the
  model it replaced) and ``user``.
"""

from django.dispatch import Signal

__all__ = [
    "model_promoted",
    "model_refused",
    "model_rolled_back",
    "run_failed",
    "run_succeeded",
]

run_failed = Signal()
run_succeeded = Signal()
model_promoted = Signal()
model_refused = Signal()
model_rolled_back = Signal()
