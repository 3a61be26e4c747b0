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
import threading

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from mlpipeline.conf import settings
from mlpipeline.exceptions import MlpipelineError
from mlpipeline.models import PipelineState, Run

__all__ = [
    "Heartbeat",
    "LockLost",
    "PipelineBusy",
    "acquire",
    "heartbeat",
    "lock_timeout",
    "release",
]

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


def lock_timeout() -> datetime.timedelta:
    """Return MLPIPELINE_LOCK_TIMEOUT as a timedelta."""
    value = settings.LOCK_TIMEOUT
    if isinstance(value, datetime.timedelta):
        return value
    return datetime.timedelta(seconds=float(value))


def acquire(run: Run) -> None:
    """Take the lock of ``run``'s pipeline for ``run``.

    Succeed when the lock is free, already held by ``run`` in this process,
    or abandoned (heartbeat older than the timeout: its process died). The
    take-over of an abandoned lock is logged and recorded on ``run``, and a
    run of another process still marked running is marked failed, so it can
    be resumed. Raise :class:`PipelineBusy` when a live process holds it,
    also when that process works on ``run`` itself (a redelivered message or
    a second ``--resume`` while the first still works).
    """
    PipelineState.objects.get_or_create(name=run.pipeline)
    now = timezone.now()
    stale = now - lock_timeout()
    mine = Q(locked_by=run, holder=_holder())
    free = Q(locked_by__isnull=True) | mine | Q(heartbeat_at__lt=stale)
    previous = PipelineState.objects.get(name=run.pipeline)
    taken = PipelineState.objects.filter(free, name=run.pipeline).update(
        locked_by=run, holder=_holder(), locked_at=now, heartbeat_at=now
    )
    if not taken:
        raise PipelineBusy(run.pipeline, PipelineState.objects.get(name=run.pipeline))
    if previous.locked_by_id is not None and previous.holder != _holder():
        detail = (
            f"took over the lock of run {previous.locked_by_id} ({previous.holder}), "
            f"silent since {previous.heartbeat_at.isoformat()}"
        )
        logger.warning("Pipeline %s run %s %s", run.pipeline, run.pk, detail)
        run.add_event("lock taken over", detail)
        if previous.locked_by_id != run.pk:
            Run.objects.filter(
                pk=previous.locked_by_id, status=Run.Status.RUNNING
            ).update(
                status=Run.Status.FAILED,
                error=f"Abandoned: its process ({previous.holder}) stopped "
                "answering; resume it to continue.",
                finished_at=now,
            )


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


class Heartbeat:
    """Refresh ``run``'s lock from a thread while a long step works.

    The engine trains in the calling process without calling back, so this
    thread keeps the heartbeat fresh every quarter of the lock timeout; when
    the process dies, the thread dies with it and the lock goes stale.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"mlpipeline-heartbeat-{run.pk}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = lock_timeout().total_seconds() / 4
        try:
            while not self._stop.wait(interval):
                try:
                    PipelineState.objects.filter(
                        name=self.run.pipeline, locked_by=self.run
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # Skip a beat; the next one, or the step's own, follows.
                    logger.warning(
                        "Heartbeat of run %s failed", self.run.pk, exc_info=True
                    )
        finally:
            connection.close()


def release(run: Run) -> None:
    """Free the lock if ``run`` holds it."""
    PipelineState.objects.filter(name=run.pipeline, locked_by=run).update(
        locked_by=None, holder="", locked_at=None, heartbeat_at=None
    )
