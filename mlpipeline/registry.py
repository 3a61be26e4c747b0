"""The model registry: record every trained model, gate it, switch, roll back.

Each run that trains a model leaves a :class:`~mlpipeline.models.TrainedModel`
(:func:`record`). The gate (:func:`decide`) then makes it the pipeline's
active model only if its evaluation metric beats the baseline and falls short
of the active model's by no more than MLPIPELINE_PROMOTION_MARGIN (a fraction
of the active model's metric); otherwise the refusal is recorded with its
reason and both metrics. The reason notes when the two models' evaluation
rows were chosen by different split rules (:mod:`mlpipeline.split`).
:func:`force_promote` activates a model whatever the gate says, for a user
holding ``mlpipeline.promote_model``, and :func:`rollback` makes the previous
model active again; ``cleanup_models`` never deletes the active or the
previous model.

Every change of the active model is one transaction on the pipeline's
:class:`~mlpipeline.models.PipelineState` row: the active and previous
pointers move and ``version`` goes up by one, which is what serving
processes check before each prediction. The signals of
:mod:`mlpipeline.signals` are sent once the transaction has committed.
"""

from __future__ import annotations

import logging
import math
import platform
from importlib import metadata
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from mlpipeline.conf import settings
from mlpipeline.exceptions import RegistryError, RunNotFound
from mlpipeline.load import entity_ids
from mlpipeline.models import PipelineState, Run, TrainedModel
from mlpipeline.signals import model_promoted, model_refused, model_rolled_back
from mlpipeline.split import describe as describe_split

__all__ = [
    "LOWER_IS_BETTER",
    "active_model",
    "active_state",
    "decide",
    "force_promote",
    "judge",
    "record",
    "rollback",
]

logger = logging.getLogger(__name__)

#: Metrics for which a smaller value means a better model.
LOWER_IS_BETTER = frozenset({"RegressionRMSE"})

#: Distributions whose versions are recorded with each model, when installed.
_LIBRARIES = ("django", "numpy", "boto3", "mlpipeline")


def record(run: Run) -> TrainedModel:
    """Return the registry entry of ``run``'s model, creating it once.

    ``run`` must have finished its load: it holds the model id, endpoint
    URL and evaluation. Raise :class:`RegistryError` when it has no model.
    """
    if not run.model_id:
        raise RegistryError(
            f"Run {run.pk} of {run.pipeline!r} has no model to record; only a "
            "run whose load finished has one."
        )
    existing = TrainedModel.objects.filter(run=run).first()
    if existing is not None:
        return existing
    steps = {step.name: step for step in run.steps.all()}
    statistics = {
        kind: steps[f"{kind}_datasource"].detail.get("statistics")
        for kind in ("train", "evaluation")
        if f"{kind}_datasource" in steps
    }
    ids = entity_ids(run)
    return TrainedModel.objects.create(
        run=run,
        pipeline=run.pipeline,
        backend=run.backend,
        model_type=run.model_type,
        model_id=run.model_id,
        endpoint_url=run.endpoint_url,
        entity_ids={key: value for key, value in ids.items() if key != "model"},
        schema=run.schema,
        split=run.split,
        parameters=run.parameters,
        rows_written=run.rows_written,
        rows_train=run.rows_train,
        rows_evaluation=run.rows_evaluation,
        statistics=statistics,
        metric_name=run.metric_name,
        metric_value=run.metric_value,
        baseline=run.baseline,
        evaluation=run.evaluation,
        # The engine's evaluation reports it; Amazon ML's gives no histogram.
        distribution=(run.evaluation or {}).get("histogram"),
        library_versions=_library_versions(),
        trained_at=steps["model"].finished_at if "model" in steps else None,
    )


def judge(
    model: TrainedModel, active: TrainedModel | None, margin: float
) -> tuple[bool, str]:
    """Return whether the gate lets ``model`` replace ``active``, and why."""
    name, value = model.metric_name, model.metric_value
    if value is None:
        return False, f"Model {model.model_id} has no evaluation metric."
    if not math.isfinite(value):
        # NaN compares false with everything, so no later test would stop it.
        return False, f"Model {model.model_id} has the non-finite {name} {value}."
    lower = name in LOWER_IS_BETTER
    baseline = model.baseline
    if baseline is not None:
        beats = value < baseline if lower else value > baseline
        if not beats:
            return False, (
                f"{name} {value:.4f} does not beat the baseline {baseline:.4f}."
            )
    if active is None or active.metric_value is None:
        return True, f"{name} {value:.4f}{_versus(baseline)}; no model was active."
    if active.metric_name != name:
        return True, (
            f"{name} {value:.4f}{_versus(baseline)}; the active model "
            f"{active.model_id} is measured by {active.metric_name}, so the "
            "two were not compared."
        )
    reference = active.metric_value
    shortfall = value - reference if lower else reference - value
    allowed = margin * abs(reference)
    note = _split_note(model, active)
    if shortfall > allowed:
        return False, (
            f"{name} {value:.4f} falls short of the active model "
            f"{active.model_id}'s {reference:.4f} by more than the "
            f"{margin:.1%} margin ({allowed:.4f}).{note}"
        )
    return True, (
        f"{name} {value:.4f}{_versus(baseline)}, against the active model "
        f"{active.model_id}'s {reference:.4f} (margin {margin:.1%}).{note}"
    )


def _split_note(model: TrainedModel, active: TrainedModel) -> str:
    """Return what the gate says when two models' evaluation rows differ.

    Models whose rows were split by the same rule are scored on the same
    rows, bar the rows added or removed since. Models split otherwise (a
    changed seed or train_percent, or a model from before the split by
    primary key) are still compared, since refusing to compare would let a
    much worse model through, but the reason says their rows differ.
    """
    if model.split == active.split:
        return ""
    return (
        f" The two were scored on different evaluation rows: this model's were "
        f"chosen by {describe_split(model.split)}, the active model's by "
        f"{describe_split(active.split)}."
    )


def decide(model: TrainedModel) -> TrainedModel:
    """Let the gate promote or refuse ``model``; return it, decided.

    A model decided before (a resumed run) is returned unchanged. Sends
    ``model_promoted`` or ``model_refused`` after the commit.
    """
    if model.decision:
        return model
    margin = float(settings.PROMOTION_MARGIN)
    with transaction.atomic():
        state = _locked_state(model.pipeline)
        active = state.active_model
        promoted, reason = judge(model, active, margin)
        model.decision = (
            TrainedModel.Decision.PROMOTED
            if promoted
            else TrainedModel.Decision.REFUSED
        )
        model.decision_reason = reason
        model.compared_with = None if active is None else active.metric_value
        model.decided_at = timezone.now()
        model.save()
        if promoted:
            _activate(state, model)
    if promoted:
        logger.info("Promoted %s of %s: %s", model.model_id, model.pipeline, reason)
        transaction.on_commit(
            lambda: model_promoted.send(
                sender=TrainedModel, model=model, previous=active, forced_by=""
            )
        )
    else:
        logger.warning("Refused %s of %s: %s", model.model_id, model.pipeline, reason)
        transaction.on_commit(
            lambda: model_refused.send(
                sender=TrainedModel, model=model, reason=reason, active=active
            )
        )
    return model


def force_promote(model: TrainedModel, user: Any) -> TrainedModel:
    """Make ``model`` active whatever the gate said, in ``user``'s name.

    Raise :class:`~django.core.exceptions.PermissionDenied` unless ``user``
    holds ``mlpipeline.promote_model``, and :class:`RegistryError` when the
    model is already active.
    """
    if not user.has_perm("mlpipeline.promote_model"):
        raise PermissionDenied(
            f"User {user.get_username()!r} may not promote models; grant the "
            "permission mlpipeline.promote_model."
        )
    username = user.get_username()
    with transaction.atomic():
        state = _locked_state(model.pipeline)
        if state.active_model_id == model.pk:
            raise RegistryError(
                f"Model {model.model_id} is already active for {model.pipeline!r}."
            )
        previous = state.active_model
        gate = model.decision_reason
        model.decision = TrainedModel.Decision.FORCED
        model.decision_reason = f"Promoted by {username}." + (
            f" The gate had said: {gate}" if gate else ""
        )
        model.compared_with = None if previous is None else previous.metric_value
        model.decided_at = timezone.now()
        model.decided_by = username
        model.save()
        _activate(state, model)
    logger.warning(
        "%s forced %s of %s into service", username, model.model_id, model.pipeline
    )
    transaction.on_commit(
        lambda: model_promoted.send(
            sender=TrainedModel, model=model, previous=previous, forced_by=username
        )
    )
    return model


def rollback(pipeline: str, user: Any = None) -> TrainedModel:
    """Make ``pipeline``'s previous model active again; return it.

    The model it replaces becomes the previous one, so a second rollback
    undoes the first. ``user``, when given, must hold
    ``mlpipeline.promote_model`` (else
    :class:`~django.core.exceptions.PermissionDenied`). Raise
    :class:`RegistryError` when there is no previous model.
    """
    username = ""
    if user is not None:
        if not user.has_perm("mlpipeline.promote_model"):
            raise PermissionDenied(
                f"User {user.get_username()!r} may not roll models back; grant "
                "the permission mlpipeline.promote_model."
            )
        username = user.get_username()
    with transaction.atomic():
        state = _locked_state(pipeline)
        restored, replaced = state.previous_model, state.active_model
        if restored is None:
            raise RegistryError(
                f"Pipeline {pipeline!r} has no previous model to roll back to."
            )
        if restored.run.completed_step("cleanup") is not None:
            raise RegistryError(
                f"The previous model {restored.model_id} of {pipeline!r} was "
                "deleted by cleanup_models; promote another model instead, or "
                "raise MLPIPELINE_RETENTION to keep models longer."
            )
        _activate(state, restored)
    logger.warning(
        "Rolled %s back from %s to %s%s",
        pipeline,
        None if replaced is None else replaced.model_id,
        restored.model_id,
        f" ({username})" if username else "",
    )
    transaction.on_commit(
        lambda: model_rolled_back.send(
            sender=TrainedModel, model=restored, replaced=replaced, user=username
        )
    )
    return restored


def active_state(pipeline: str) -> PipelineState:
    """Return ``pipeline``'s state with its active model, read now.

    The model and the state's version come from one row, so they agree even
    when a switch happens meanwhile. Raise RunNotFound when no model is
    active.
    """
    state = (
        PipelineState.objects.select_related("active_model__run")
        .filter(name=pipeline)
        .first()
    )
    if state is None or state.active_model is None:
        raise RunNotFound(
            f"Pipeline {pipeline!r} has no active model yet; run "
            f"'manage.py learn {pipeline}'."
        )
    return state


def active_model(pipeline: str) -> TrainedModel:
    """Return ``pipeline``'s active model, read now; raise RunNotFound."""
    return active_state(pipeline).active_model


def _locked_state(pipeline: str) -> PipelineState:
    PipelineState.objects.get_or_create(name=pipeline)
    return (
        # Lock the state row alone: the models joined in may be NULL, and
        # PostgreSQL locks no row on the nullable side of a join.
        PipelineState.objects.select_for_update(of=("self",))
        .select_related("active_model", "previous_model__run")
        .get(name=pipeline)
    )


def _activate(state: PipelineState, model: TrainedModel) -> None:
    """Point ``state`` at ``model``; the caller holds the row's lock.

    The model that stops being active gets ``deactivated_at``, from which
    cleanup_models counts its retention.
    """
    now = timezone.now()
    replaced = state.active_model
    if state.active_model_id != model.pk:
        state.previous_model_id = state.active_model_id
        if replaced is not None:
            replaced.deactivated_at = now
            replaced.save(update_fields=["deactivated_at"])
    state.active_model = model
    state.version += 1
    state.save(update_fields=["active_model", "previous_model", "version"])
    model.activated_at = now
    model.save(update_fields=["activated_at"])


def _versus(baseline: float | None) -> str:
    if baseline is None:
        return " (the backend reported no baseline)"
    return f" beats the baseline {baseline:.4f}"


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
