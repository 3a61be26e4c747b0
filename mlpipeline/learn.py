"""Learn: run a pipeline's extract, transform and load steps as one run.

:func:`learn` is what every trigger calls: the ``learn`` command, the Celery
task behind the weekly schedule and the admin actions. A run is recorded
before its first step and holds its pipeline's lock while it works. Every
step is a checkpoint, so running the same run again (:func:`resume`)
continues after its last completed step. A run that fails keeps its steps,
files and error, tells the site admins, and never touches the model that is
serving. A run that trains a model records it in the registry, whose gate
decides whether it becomes the pipeline's active model
(:mod:`mlpipeline.registry`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from django.core.mail import mail_admins
from django.utils import timezone

from mlpipeline import lock, registry
from mlpipeline.backends import get_backend
from mlpipeline.checks import check_pipeline
from mlpipeline.conf import settings
from mlpipeline.exceptions import DataError, RunNotFound
from mlpipeline.extract import extract_batches
from mlpipeline.load import Loader
from mlpipeline.models import Run, RunStep
from mlpipeline.pipeline import Pipeline, site
from mlpipeline.schema import Layout, layout_for
from mlpipeline.signals import run_failed, run_succeeded
from mlpipeline.split import split_paths
from mlpipeline.transform import TransformResult, finish, write_features

__all__ = ["STEPS", "learn", "resume", "start"]

logger = logging.getLogger(__name__)

#: The parts of a run that ``learn(only=...)`` may run alone.
STEPS = ("transform", "load")

Progress = Callable[[str, int], None]


def learn(
    pipeline: Pipeline,
    *,
    only: str | None = None,
    progress: Progress | None = None,
    trigger: str = Run.Trigger.COMMAND,
    requested_by: str = "",
) -> Run:
    """Run ``pipeline`` now and return its run, succeeded or failed.

    ``only="transform"`` extracts and transforms, leaving the features file
    for a later ``only="load"``, which loads the newest such run. Raise
    :class:`~mlpipeline.exceptions.PipelineDeclarationError` before any run
    is recorded when the declaration is wrong,
    :class:`~mlpipeline.lock.PipelineBusy` when another run holds the
    pipeline (the new run is recorded as skipped), and any error of the run
    after recording it on the run.
    """
    if only not in (None, *STEPS):
        raise ValueError(f"only must be one of {STEPS!r} or None, not {only!r}.")
    layout = layout_for(pipeline)
    check_pipeline(pipeline, layout)
    if only == "load":
        run = _transformed_run(pipeline)
    else:
        run = Run.objects.create(
            pipeline=layout.pipeline,
            backend=pipeline.backend or settings.DEFAULT_BACKEND,
            model_type=layout.model_type,
            trigger=trigger,
            requested_by=requested_by,
        )
    return _execute(run, pipeline, layout, only=only, progress=progress)


def start(run: Run, *, progress: Progress | None = None) -> Run:
    """Run or resume the queued or interrupted ``run``; return it.

    Only a queued or running run is started: a run that succeeded, failed
    or was skipped is left as it is (use :func:`resume` for a failed one),
    and the duplicate request is recorded as an event on it.
    """
    if run.status not in Run.ACTIVE:
        run.add_event("duplicate ignored", f"run is already {run.status}")
        logger.info(
            "Run %s of %s is %s; nothing to do", run.pk, run.pipeline, run.status
        )
        return run
    pipeline = site.get(run.pipeline)
    return _execute(run, pipeline, layout_for(pipeline), only=None, progress=progress)


def resume(run: Run, *, progress: Progress | None = None) -> Run:
    """Continue ``run`` after its last completed step; return it."""
    if run.status == Run.Status.SUCCEEDED:
        raise RunNotFound(f"Run {run.pk} of {run.pipeline!r} has already succeeded.")
    run.add_event("resumed", f"from status {run.status}")
    run.status = Run.Status.QUEUED
    run.save(update_fields=["status"])
    return start(run, progress=progress)


def _execute(
    run: Run,
    pipeline: Pipeline,
    layout: Layout,
    *,
    only: str | None,
    progress: Progress | None,
) -> Run:
    try:
        lock.acquire(run)
    except lock.PipelineBusy as busy:
        if busy.run_id != run.pk and run.steps.exists():
            # A resumed run keeps what it made: leave it failed, resumable.
            run.status = Run.Status.FAILED
            run.save(update_fields=["status"])
            run.add_event("resume skipped", str(busy))
        elif busy.run_id != run.pk:
            run.status = Run.Status.SKIPPED
            run.error = str(busy)
            run.finished_at = timezone.now()
            run.save()
        logger.info("Run %s not started: %s", run.pk, busy)
        raise
    folder = settings.work_dir / layout.pipeline / f"run-{run.pk}"
    try:
        with lock.Heartbeat(run):
            run.status = Run.Status.RUNNING
            run.error = ""
            run.save()
            if only != "load" and run.completed_step("upload") is None:
                _extract_and_transform(run, pipeline, layout, folder, progress)
            if only == "transform":
                run.status = Run.Status.TRANSFORMED
                run.save()
                return run
            backend = get_backend(run.backend)
            Loader(backend, heartbeat=lambda: lock.heartbeat(run)).load(
                run, pipeline, layout, Path(run.features_file)
            )
            # Idempotent, so a resumed run that failed here decides once.
            registry.decide(registry.record(run))
    except BaseException as err:
        _failed(run, err)
        raise
    finally:
        lock.release(run)

    run.status = Run.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    shutil.rmtree(folder, ignore_errors=True)
    run_succeeded.send(sender=Run, run=run)
    return run


def _failed(run: Run, error: BaseException) -> None:
    run.fail(error)
    logger.warning("Pipeline %s run %s failed: %s", run.pipeline, run.pk, error)
    run_failed.send(sender=Run, run=run, error=error)
    steps = "\n".join(
        f"  {step.name}: {step.status}{' - ' + step.error if step.error else ''}"
        for step in run.steps.all()
    )
    mail_admins(
        f"mlpipeline: run {run.pk} of {run.pipeline} failed",
        f"Run {run.pk} of pipeline {run.pipeline!r} failed: {run.error}\n\n"
        f"Steps:\n{steps}\n\nThe serving model has not changed. Fix the cause, "
        "then resume the run from the admin or start a new one.",
        fail_silently=True,
    )


def _extract_and_transform(
    run: Run,
    pipeline: Pipeline,
    layout: Layout,
    folder: Path,
    progress: Progress | None,
) -> None:
    features_path = folder / "features.csv"
    if run.completed_step("transform") is not None and _transformed(features_path):
        return
    folder.mkdir(parents=True, exist_ok=True)

    # The rows go from the database straight through the expanders into the
    # features file, so they are neither written nor parsed twice: the
    # extract step does both, and the transform step checks what it wrote.
    with run.step("extract") as step:
        chunk_size = pipeline.chunk_size or settings.CHUNK_SIZE
        report = None if progress is None else (lambda n: progress("extract", n))
        batches = extract_batches(
            pipeline, layout, chunk_size=chunk_size, progress=report
        )
        result = write_features(layout, batches, features_path)
        run.rows_extracted = result.rows_read
        step.record(
            rows=run.rows_extracted,
            chunk_size=chunk_size,
            columns=layout.columns,
            expanded=True,
        )
    run.save()

    with run.step("transform") as step:
        try:
            finish(layout, result)
        except DataError:
            # Rows refused: keep what the transform counted on the run.
            _record_transform(run, step, result)
            raise
        _record_transform(run, step, result)
        run.features_file = str(features_path)
        run.schema = result.schema
        run.split = layout.split.as_dict()
        run.check_counts()
    run.save()


def _record_transform(run: Run, step: RunStep, result: TransformResult) -> None:
    """Put what the transform counted on the run and on its step."""
    run.rows_written = result.rows
    run.rows_rejected = result.rejected
    run.rejections = result.rejections
    run.save()
    step.record(
        rows=result.rows,
        split_rows=result.split_rows,
        rejected=result.rejected,
        missing_targets=result.missing_targets,
        target_counts=dict(result.target_counts.most_common(100)),
        warnings=result.warnings,
    )


def _transformed(features_path: Path) -> bool:
    """Return whether the transform's files of ``features_path`` exist."""
    return all(path.exists() for path in split_paths(features_path).values())


def _transformed_run(pipeline: Pipeline) -> Run:
    name = pipeline.get_name()
    run = (
        Run.objects.filter(pipeline=name, status=Run.Status.TRANSFORMED)
        .order_by("-started_at", "-pk")
        .first()
    )
    if run is None or not _transformed(Path(run.features_file)):
        raise RunNotFound(
            f"Pipeline {name!r} has no transformed run to load; run "
            f"'manage.py learn {name} --only transform' first."
        )
    return run
