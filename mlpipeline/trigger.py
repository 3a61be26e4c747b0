"""Asking for a run: queue it once, whoever asks and however often.

Every trigger other than the ``learn`` command goes through
:func:`request_run`: the weekly schedule, the admin's "Retrain now" and
"Resume". A request that duplicates one already queued or running (a
second beat process, a redelivered message, a click during a run) is
skipped with a log line and an event on the run it duplicates.
"""

from __future__ import annotations

import logging
import threading

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from mlpipeline.conf import settings
from mlpipeline.lock import lock_timeout
from mlpipeline.models import PipelineState, Run
from mlpipeline.pipeline import site
from mlpipeline.schema import layout_for

__all__ = ["request_resume", "request_run"]

logger = logging.getLogger(__name__)


def request_run(
    pipeline_name: str, *, trigger: str, key: str | None = None, requested_by: str = ""
) -> tuple[Run, bool]:
    """Queue a run of ``pipeline_name``; return it and whether it is new.

    ``key`` identifies the trigger (e.g. a schedule slot): a second request
    with the same key returns the first run. A request while a run of the
    pipeline is queued or running returns that run. Either duplicate is
    recorded as an event on the run returned.
    """
    pipeline = site.get(pipeline_name)
    layout = layout_for(pipeline)
    PipelineState.objects.get_or_create(name=pipeline_name)
    with transaction.atomic():
        # Two requests at once queue one run: the second waits for this row.
        PipelineState.objects.select_for_update().get(name=pipeline_name)
        duplicate = _duplicate_of(pipeline_name, key)
        if duplicate is None:
            try:
                with transaction.atomic():
                    run = Run.objects.create(
                        pipeline=pipeline_name,
                        backend=pipeline.backend or _default_backend(),
                        model_type=layout.model_type,
                        status=Run.Status.QUEUED,
                        trigger=trigger,
                        trigger_key=key,
                        requested_by=requested_by,
                    )
            except IntegrityError:
                # Another process created the run for this key meanwhile.
                duplicate = Run.objects.get(trigger_key=key)
        if duplicate is not None:
            detail = f"{trigger} request{f' by {requested_by}' if requested_by else ''}"
            duplicate.add_event("duplicate trigger skipped", detail)
            logger.info(
                "Skipped %s for %s: run %s is %s", detail, pipeline_name,
                duplicate.pk, duplicate.status,
            )  # fmt: skip
            return duplicate, False
        _send(run)
    return run, True


def request_resume(run: Run, *, requested_by: str = "") -> None:
    """Queue ``run`` again so it continues after its last completed step."""
    run.add_event("resume requested", requested_by)
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(status=Run.Status.QUEUED)
        _send(run)


def _duplicate_of(pipeline_name: str, key: str | None) -> Run | None:
    if key is not None:
        existing = Run.objects.filter(trigger_key=key).first()
        if existing is not None:
            return existing
    active = (
        Run.objects.filter(pipeline=pipeline_name, status__in=Run.ACTIVE)
        .order_by("-pk")
        .first()
    )
    if active is not None and active.status == Run.Status.RUNNING:
        # A run whose process died keeps its status; its silent lock says so,
        # and the new run will take the lock over.
        state = PipelineState.objects.get(name=pipeline_name)
        stale = timezone.now() - lock_timeout()
        alive = state.locked_by_id == active.pk and state.heartbeat_at > stale
        if not alive:
            return None
    return active


def _send(run: Run) -> None:
    from mlpipeline.tasks import run_pipeline

    if run_pipeline.app.conf.task_always_eager and settings.EAGER_IN_THREAD:
        # No broker: run in a thread of this process, after commit, so a web
        # request that queued the run answers at once.
        transaction.on_commit(lambda: _start_thread(run.pk))
        return
    # Send after commit, so a worker never looks for a run not yet saved.
    run_pipeline.delay_on_commit(run.pk)


def _start_thread(run_id: int) -> None:
    from mlpipeline.tasks import run_pipeline

    def work() -> None:
        try:
            run_pipeline(run_id)
        finally:
            connection.close()

    threading.Thread(target=work, name=f"mlpipeline-run-{run_id}", daemon=True).start()


def _default_backend() -> str:
    return settings.DEFAULT_BACKEND
