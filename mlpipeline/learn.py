"""Learn: run a pipeline's extract, transform and load steps as one run.

:func:`learn` is what ``manage.py learn`` (and every other trigger) calls.
A run is recorded before its first step; a run that fails keeps its steps
and the error, and never touches the model that is serving: the app serves
the newest run that succeeded.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from django.utils import timezone

from mlpipeline.backends import get_backend
from mlpipeline.conf import settings
from mlpipeline.exceptions import RunNotFound
from mlpipeline.extract import extract
from mlpipeline.load import Loader
from mlpipeline.models import Run
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import Layout, layout_for
from mlpipeline.transform import transform

__all__ = ["STEPS", "learn"]

logger = logging.getLogger(__name__)

#: The parts of a run that ``learn(only=...)`` may run alone.
STEPS = ("transform", "load")


def learn(
    pipeline: Pipeline,
    *,
    only: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Run:
    """Run ``pipeline`` and return its run, succeeded or failed.

    ``only="transform"`` extracts and transforms, leaving the features file
    for a later ``only="load"``, which loads the newest such run. Raise
    :class:`~mlpipeline.exceptions.PipelineDeclarationError` before any run
    is recorded when the declaration is wrong; errors during the run are
    recorded on it and re-raised.
    """
    if only not in (None, *STEPS):
        raise ValueError(f"only must be one of {STEPS!r} or None, not {only!r}.")
    layout = layout_for(pipeline)
    backend_alias = pipeline.backend or settings.DEFAULT_BACKEND
    if only == "load":
        run = _transformed_run(pipeline)
    else:
        run = Run.objects.create(
            pipeline=layout.pipeline,
            backend=backend_alias,
            model_type=layout.model_type,
        )
    folder = settings.work_dir / layout.pipeline / f"run-{run.pk}"

    try:
        if only != "load":
            _extract_and_transform(run, pipeline, layout, folder, progress)
        if only == "transform":
            run.status = Run.Status.TRANSFORMED
            run.save()
            return run
        backend = get_backend(backend_alias)
        Loader(backend).load(run, pipeline, layout, Path(run.features_file))
    except BaseException as err:
        run.fail(err)
        if only != "load":
            shutil.rmtree(folder, ignore_errors=True)
        logger.warning("Pipeline %s run %s failed: %s", run.pipeline, run.pk, err)
        raise

    run.status = Run.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    shutil.rmtree(folder, ignore_errors=True)
    return run


def _extract_and_transform(
    run: Run,
    pipeline: Pipeline,
    layout: Layout,
    folder: Path,
    progress: Callable[[str, int], None] | None,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows_path = folder / "rows.csv"
    features_path = folder / "features.csv"

    with run.step("extract") as step:
        chunk_size = pipeline.chunk_size or settings.CHUNK_SIZE
        report = None if progress is None else (lambda n: progress("extract", n))
        run.rows_extracted = extract(
            pipeline, layout, rows_path, chunk_size=chunk_size, progress=report
        )
        step.record(rows=run.rows_extracted, chunk_size=chunk_size)
    run.save()

    with run.step("transform") as step:
        result = transform(layout, rows_path, features_path)
        rows_path.unlink()
        step.record(
            rows=result.rows,
            missing_targets=result.missing_targets,
            target_counts=dict(result.target_counts.most_common(100)),
        )
    run.rows_written = result.rows
    run.features_file = str(features_path)
    run.schema = layout.schema()
    run.save()


def _transformed_run(pipeline: Pipeline) -> Run:
    name = pipeline.get_name()
    run = (
        Run.objects.filter(pipeline=name, status=Run.Status.TRANSFORMED)
        .order_by("-started_at", "-pk")
        .first()
    )
    if run is None or not Path(run.features_file).exists():
        raise RunNotFound(
            f"Pipeline {name!r} has no transformed run to load; run "
            f"'manage.py learn {name} --only transform' first."
        )
    run.status = Run.Status.RUNNING
    run.save()
    return run
