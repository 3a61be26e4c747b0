"""Celery tasks: thin wrappers that take ids and call :mod:`mlpipeline.learn`.

Task names are fixed strings, so moving this module strands no queued
message. ``run_pipeline`` acknowledges its message only when it returns
(``acks_late``) and asks for redelivery if its worker dies, so a killed
worker's run is picked up again and resumes after its last checkpoint.
"""

from __future__ import annotations

from celery import shared_task
from celery.utils.log import get_task_logger
from django.utils import timezone

from mlpipeline.learn import start
from mlpipeline.lock import PipelineBusy
from mlpipeline.models import Run
from mlpipeline.schedule import schedule_for
from mlpipeline.trigger import request_run

__all__ = ["run_pipeline", "scheduled_run"]

logger = get_task_logger(__name__)


@shared_task(
    name="mlpipeline.run_pipeline",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_pipeline(run_id: int) -> str:
    """Run or resume run ``run_id``; return its final status."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        logger.warning("Run %s does not exist; message dropped", run_id)
        return "missing"
    try:
        run = start(run)
    except PipelineBusy as busy:
        logger.info("Run %s skipped: %s", run_id, busy)
        return Run.Status.SKIPPED
    except Exception:
        # Recorded on the run and mailed to the admins; a retry would fail the
        # same way, so the message is consumed.
        logger.exception("Run %s failed", run_id)
        return Run.Status.FAILED
    return run.status


@shared_task(name="mlpipeline.scheduled_run", ignore_result=True)
def scheduled_run(pipeline_name: str) -> int | None:
    """Queue the weekly run of ``pipeline_name`` for the slot beat fired for.

    The slot's time is the run's trigger key, so two beat processes, or a
    message delivered twice, queue one run per week.
    """
    schedule = schedule_for(pipeline_name)
    if schedule is None:
        return None
    slot = schedule.nearest_slot(timezone.now())
    run, _ = request_run(
        pipeline_name,
        trigger=Run.Trigger.SCHEDULE,
        key=f"schedule:{pipeline_name}:{slot.isoformat()}",
    )
    return run.pk
