"""Cleanup: delete what superseded runs left in their backend.

A run that succeeded leaves a realtime endpoint (billed by the hour while
it exists on Amazon ML), a model (on the embedded backend, its weights and
feature space files too), an evaluation, two data sources and three
uploaded files. Once its model no longer serves, they are kept for
MLPIPELINE_RETENTION in case the model is wanted back, then
:func:`cleanup` deletes them. A run is cleaned when:

* its pipeline has an active model, and the run's model is neither that
  model nor the previous one (the target of a rollback): those two are
  never touched, however old;
* it succeeded, or failed after making some of its entities;
* its retention began more than MLPIPELINE_RETENTION ago. It begins when
  the run's model stopped being active (the registry's
  ``deactivated_at``); for a model that was never active, when the gate
  refused it (``decided_at``); for a failed run, and for models recorded
  before the registry kept these times, when the next run succeeded;
* it has not been cleaned yet.

What was deleted is recorded on the run as its ``cleanup`` step. Entities
already deleted or never made are skipped.
"""

from __future__ import annotations

import bisect
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from mlpipeline.backends import Backend, get_backend
from mlpipeline.conf import settings
from mlpipeline.engine import ResourceNotFoundException
from mlpipeline.exceptions import BackendError, MlpipelineError, RunNotFound
from mlpipeline.models import PipelineState, Run, RunStep, TrainedModel

__all__ = ["CLEANUP_STEP", "Cleaned", "cleanup", "kept_runs", "stale_runs"]

logger = logging.getLogger(__name__)

CLEANUP_STEP = "cleanup"
#: Load steps whose entity is a data source, an evaluation or a model.
_ENTITY_STEPS = (
    ("evaluation", "evaluation"),
    ("model", "mlmodel"),
    ("train_datasource", "datasource"),
    ("evaluation_datasource", "datasource"),
)


@dataclass
class Cleaned:
    """One run that :func:`cleanup` cleaned, or would clean in a dry run."""

    run: Run
    #: Deleted (or, in a dry run, recorded) entity ids and file locations by
    #: kind: ``endpoint``, ``evaluation``, ``mlmodel``, ``datasource``,
    #: ``file``.
    deleted: dict[str, list[str]] = field(default_factory=dict)
    #: Why cleaning stopped, if it did.
    error: str = ""


def kept_runs(pipeline: str) -> list[Run]:
    """Return the runs of ``pipeline``'s active and previous models.

    Raise :class:`RunNotFound` when no model is active.
    """
    state = (
        PipelineState.objects.select_related("active_model__run", "previous_model__run")
        .filter(name=pipeline)
        .first()
    )
    if state is None or state.active_model is None:
        raise RunNotFound(f"Pipeline {pipeline!r} has no active model.")
    models = [state.active_model, state.previous_model]
    return [model.run for model in models if model is not None]


def stale_runs(
    pipeline: str, *, now: datetime.datetime, retention: datetime.timedelta
) -> list[Run]:
    """Return the runs of ``pipeline`` to clean at ``now``, oldest first."""
    try:
        kept = kept_runs(pipeline)
    except RunNotFound:
        return []
    takeovers = sorted(
        Run.objects.filter(
            pipeline=pipeline, status=Run.Status.SUCCEEDED, finished_at__isnull=False
        ).values_list("finished_at", "pk")
    )
    cleaned = RunStep.objects.filter(
        name=CLEANUP_STEP, status=RunStep.Status.SUCCEEDED
    ).values("run")
    candidates = (
        Run.objects.filter(
            pipeline=pipeline,
            status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED],
            finished_at__isnull=False,
        )
        .exclude(pk__in=cleaned)
        .exclude(pk__in=[run.pk for run in kept])
        .select_related("trained_model")
        .order_by("finished_at", "pk")
    )

    cutoff = now - retention
    stale = []
    for run in candidates:
        since = _retained_since(run, takeovers)
        if since is not None and since <= cutoff:
            stale.append(run)
    return stale


def _retained_since(
    run: Run, takeovers: list[tuple[datetime.datetime, int]]
) -> datetime.datetime | None:
    """Return when ``run``'s retention began, or None if it has not."""
    try:
        model = run.trained_model
    except TrainedModel.DoesNotExist:
        model = None
    if model is not None and model.deactivated_at is not None:
        return model.deactivated_at
    if model is not None and model.activated_at is None and model.decided_at:
        return model.decided_at
    # A failed run, or a model that served before the registry recorded
    # when models stop: its retention begins when the next run succeeded.
    following = bisect.bisect_right(takeovers, (run.finished_at, run.pk))
    return takeovers[following][0] if following < len(takeovers) else None


def _recorded(run: Run) -> dict[str, list[str]]:
    """Return the entity ids and file locations ``run`` recorded, by kind."""
    steps = {step.name: step for step in run.steps.all()}
    found: dict[str, list[str]] = {}
    if "endpoint" in steps and steps["endpoint"].entity_id:
        found["endpoint"] = [steps["endpoint"].entity_id]
    for step_name, kind in _ENTITY_STEPS:
        if step_name in steps and steps[step_name].entity_id:
            found.setdefault(kind, []).append(steps[step_name].entity_id)
    upload = steps["upload"].detail if "upload" in steps else {}
    files = [*upload.get("locations", {}).values(), upload.get("schema")]
    if upload.get("location"):
        # Runs made before the split by primary key uploaded one features
        # file, with its schema beside it.
        files = [upload["location"], upload["location"] + ".schema"]
    if any(files):
        found["file"] = [location for location in files if location]
    return found


def _is_gone(err: Exception) -> bool:
    if isinstance(err, BackendError):
        return err.code == "ResourceNotFoundException"
    return isinstance(err, ResourceNotFoundException)


def _model(backend: Backend, model_id: str) -> dict[str, Any] | None:
    try:
        return backend.describe("mlmodel", model_id)
    except (BackendError, ResourceNotFoundException) as err:
        if _is_gone(err):
            return None
        raise


def _delete(backend: Backend, kind: str, entity_id: str) -> bool:
    try:
        backend.delete(kind, entity_id)
    except (BackendError, ResourceNotFoundException) as err:
        if _is_gone(err):
            return False
        raise
    return True


def clean_run(run: Run, backend: Backend, kept: list[Run]) -> dict[str, list[str]]:
    """Delete what ``run`` left in ``backend``; return what was deleted.

    ``kept`` are the runs of the active and previous models, which are
    never cleaned, nor are their files deleted. The endpoint goes first,
    since it costs money while it exists, then the evaluation, the model,
    the data sources and the uploaded files. The deletions are recorded on
    the run's ``cleanup`` step as they happen, so a failure keeps the
    record of what went before it.
    """
    for other in kept:
        if run.pk == other.pk or (run.model_id and run.model_id == other.model_id):
            raise ValueError(
                f"{run} holds the active or the previous model of its pipeline; "
                "it is never cleaned."
            )
    recorded = _recorded(run)
    kept_files = {name for other in kept for name in _recorded(other).get("file", [])}
    deleted: dict[str, list[str]] = {}

    with run.step(CLEANUP_STEP) as step:
        step.record(deleted=deleted)
        model_id = (recorded.get("mlmodel") or [""])[0]
        model = _model(backend, model_id) if model_id else None
        live_model = model is not None and model["Status"] != "DELETED"
        endpoint = (model or {}).get("EndpointInfo", {}).get("EndpointStatus", "NONE")
        if live_model and endpoint != "NONE" and _delete(backend, "endpoint", model_id):
            deleted["endpoint"] = [model_id]
        for kind in ("evaluation", "mlmodel", "datasource"):
            for entity_id in recorded.get(kind, []):
                if kind == "mlmodel" and not live_model:
                    continue
                if _delete(backend, kind, entity_id):
                    deleted.setdefault(kind, []).append(entity_id)
        for location in recorded.get("file", []):
            if location not in kept_files:
                backend.delete_upload(location)
                deleted.setdefault("file", []).append(location)
    logger.info("Cleaned %s: deleted %s", run, deleted)
    return deleted


def cleanup(
    pipelines: list[str] | None = None,
    *,
    now: datetime.datetime | None = None,
    retention: datetime.timedelta | None = None,
    dry_run: bool = False,
) -> list[Cleaned]:
    """Clean the stale runs of ``pipelines`` (default: every pipeline run).

    ``retention`` defaults to MLPIPELINE_RETENTION. With ``dry_run`` the
    backends are not contacted and each result lists what the run recorded
    instead of what was deleted. A run whose cleaning fails with an
    mlpipeline error is reported in its result and the others go on;
    other errors propagate.
    """
    now = now or timezone.now()
    retention = settings.retention if retention is None else retention
    if pipelines is None:
        pipelines = sorted(set(Run.objects.values_list("pipeline", flat=True)))
    backends: dict[str, Backend] = {}
    results = []

    for pipeline in pipelines:
        stale = stale_runs(pipeline, now=now, retention=retention)
        if dry_run:
            results.extend(Cleaned(run, _recorded(run)) for run in stale)
            continue
        kept = kept_runs(pipeline) if stale else []
        for run in stale:
            if run.backend not in backends:
                backends[run.backend] = get_backend(run.backend)
            try:
                deleted = clean_run(run, backends[run.backend], kept)
            except MlpipelineError as err:
                logger.warning("Could not clean %s: %s", run, err)
                step = run.steps.get(name=CLEANUP_STEP)
                results.append(Cleaned(run, step.detail["deleted"], str(err)))
                continue
            results.append(Cleaned(run, deleted))
    return results
