"""One run at a time per pipeline, with a lock kept in the database.

The lock is a conditional UPDATE of the pipeline's :class:`PipelineState`
row, so it holds across processes and machines on every database Django
supports. Its holder refreshes a heartbeat at every step and poll; a lock
whose heartbeat is older than MLPIPELINE_LOCK_TIMEOUT was left by a worker
that died, and the next run may take it over.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket

from django.db.models import Q
from django.utils import timezone

from mlpipeline.conf import settings
from mlpipeline.exceptions import MlpipelineError
from mlpipeline.models import PipelineState, Run

__all__ = ["LockLost", "PipelineBusy", "acquire", "heartbeat", "release"]

logger = logging.getLogger(__name__)


class PipelineBusy(MlpipelineError):
    """Another run of the pipeline holds its lock."""

    def __init__(self, pipeline: str, holder: PipelineState) -> None:
        self.pipeline = pipeline
        self.run_id = holder.locked_by_id
        beat = f"{holder.heartbeat_at:%Y-%m-%d %H:%M:%S}"
        super().__init__(
            f"Pipeline {pipeline!r} is busy: run {holder.locked_by_id} holds its "
            f"lock ({holder.holder}, heartbeat {beat})."
        )


class LockLost(MlpipelineError):
    """The run's lock was taken over, so the run must stop."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _timeout() -> datetime.timedelta:
    value = settings.LOCK_TIMEOUT
    if isinstance(value, datetime.timedelta):
        return value
    return datetime.timedelta(seconds=float(value))


def acquire(run: Run) -> None:
    """Take the lock of ``run``'s pipeline for ``run``.

    Succeed when the lock is free, already held by ``run`` (a resumed run)
    or abandoned (heartbeat older than the timeout); the take-over of an
    abandoned lock is logged and recorded on ``run``. Raise
    :class:`PipelineBusy` when another live run holds it.
    """
    PipelineState.objects.get_or_create(name=run.pipeline)
    now = timezone.now()
    stale = now - _timeout()
    free = Q(locked_by__isnull=True) | Q(locked_by=run) | Q(heartbeat_at__lt=stale)
    previous = PipelineState.objects.get(name=run.pipeline)
    taken = PipelineState.objects.filter(free, name=run.pipeline).update(
        locked_by=run, holder=_holder(), locked_at=now, heartbeat_at=now
    )
    if not taken:
        raise PipelineBusy(run.pipeline, PipelineState.objects.get(name=run.pipeline))
    abandoned = previous.locked_by_id not in (None, run.pk)
    if abandoned:
        detail = (
            f"took over the lock of run {previous.locked_by_id} ({previous.holder}), "
            f"silent since {previous.heartbeat_at.isoformat()}"
        )
        logger.warning("Pipeline %s run %s %s", run.pipeline, run.pk, detail)
        run.add_event("lock taken over", detail)


def heartbeat(run: Run) -> None:
    """Refresh the lock of ``run``; raise :class:`LockLost` if it lost it."""
    updated = PipelineState.objects.filter(name=run.pipeline, locked_by=run).update(
        heartbeat_at=timezone.now()
    )
    if not updated:
        raise LockLost(
            f"Pipeline {run.pipeline!r} run {run.pk} lost its lock to another run; "
            "it stops here."
        )


def release(run: Run) -> None:
    """Free the lock if ``run`` holds it."""
    PipelineState.objects.filter(name=run.pipeline, locked_by=run).update(
        locked_by=None, holder="", locked_at=None, heartbeat_at=None
    )
