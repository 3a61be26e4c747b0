"""Load: hand the features files to a backend and build a served model.

The :class:`Loader` drives the steps of the original rake task on whichever
backend a pipeline uses: upload the training and evaluation files (split by
primary key, see :mod:`mlpipeline.split`) and their schema, create a data
source of each file (whole, with statistics), train the model, evaluate it
and create its realtime endpoint, waiting for each. Every step is recorded
on the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlpipeline import preflight
from mlpipeline.backends import Backend
from mlpipeline.exceptions import PipelineDeclarationError
from mlpipeline.models import Run, RunStep
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import Layout
from mlpipeline.split import SIDES, split_paths
from mlpipeline.transform import schema_path

__all__ = ["Loader", "entity_ids", "training_parameters"]

logger = logging.getLogger(__name__)

#: The console's defaults, which Amazon ML users saw; a pipeline's ``sgd``
#: overrides them key by key.
DEFAULT_PARAMETERS = {
    "sgd.maxMLModelSizeInBytes": "104857600",
    "sgd.maxPasses": "10",
    "sgd.shuffleType": "auto",
    "sgd.l1RegularizationAmount": "0.0",
    "sgd.l2RegularizationAmount": "1e-06",
}


def entity_ids(run: Run) -> dict[str, str]:
    """Return the backend ids of ``run``'s entities.

    They are unique per run (the run's random token keeps them apart across
    databases sharing a backend) and the same on every retry of the run.
    Amazon ML ids take at most 64 characters, so pipeline names take 32.
    """
    base = f"{run.pipeline}-{run.pk}-{run.token}"
    return {
        "train_datasource": f"ds-{base}-train",
        "evaluation_datasource": f"ds-{base}-evaluation",
        "model": f"ml-{base}",
        "evaluation": f"ev-{base}",
    }


def training_parameters(pipeline: Pipeline) -> dict[str, str]:
    """Return the Amazon ML training parameters of ``pipeline`` as strings."""
    given = pipeline.sgd
    if not isinstance(given, dict):
        raise PipelineDeclarationError(
            f"Pipeline {pipeline.get_name()!r} has sgd {given!r}; give a dict of "
            "training parameters such as {'sgd.maxPasses': 20}."
        )
    penalties = {"sgd.l1RegularizationAmount", "sgd.l2RegularizationAmount"}
    if penalties <= set(given) and all(_positive(given[key]) for key in penalties):
        raise PipelineDeclarationError(
            f"Pipeline {pipeline.get_name()!r} sets both sgd.l1RegularizationAmount "
            "and sgd.l2RegularizationAmount; Amazon ML takes one penalty, so give "
            "one of them (or set the other to 0)."
        )
    parameters = dict(DEFAULT_PARAMETERS)
    for key, value in given.items():
        if key in ("sgd.l1RegularizationAmount", "sgd.l2RegularizationAmount"):
            other = (
                "sgd.l2RegularizationAmount"
                if key.startswith("sgd.l1")
                else "sgd.l1RegularizationAmount"
            )
            # Amazon ML takes one penalty; naming one switches the other off.
            parameters[other] = "0.0"
        parameters[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return parameters


def _positive(value: Any) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


class Loader:
    """Run the load steps of one run on one backend, resumably.

    Each step is a checkpoint on the run: a step that succeeded on an
    earlier attempt is not run again (its recorded results are reused), and
    an entity that an interrupted attempt created is waited for rather than
    created twice. ``heartbeat`` is called before each step and at each
    backend poll.
    """

    def __init__(self, backend: Backend, heartbeat: Callable[[], None] | None = None):
        self.backend = backend
        self.heartbeat = heartbeat
        self._retrying = False
        backend.heartbeat = heartbeat

    def load(self, run: Run, pipeline: Pipeline, layout: Layout, path: Path) -> None:
        """Load the features files of ``run`` and record each step.

        ``path`` is the ``features_path`` the transform step was given: the
        files of both sides are :func:`~mlpipeline.split.split_paths` of it.
        On return the run holds the model id, its endpoint URL, the metric
        and the row counts of both data sources. Errors propagate after the
        failing step is recorded; nothing after that step is created.
        """
        ids = entity_ids(run)
        # The transform's schema: it excludes what the rows showed useless.
        schema = run.schema or layout.schema()
        files = split_paths(path)

        if run.completed_step("upload") is None:
            # What the service would refuse only after the upload and a wait.
            preflight.check(
                self.backend,
                layout,
                list(files.values()),
                ids=ids,
                parameters=training_parameters(pipeline),
                recipe=pipeline.recipe,
            )
        upload = self._step(run, "upload", lambda step: self._upload(run, path, step))

        for kind in SIDES:
            detail = self._step(
                run,
                f"{kind}_datasource",
                lambda step, kind=kind: self._data_source(
                    run,
                    ids[f"{kind}_datasource"],
                    kind,
                    files[kind],
                    upload["locations"][kind],
                    schema,
                    step,
                ),
            )
            setattr(run, f"rows_{kind}", detail["rows"])
        run.save()
        run.check_counts()

        parameters = training_parameters(pipeline)
        self._step(
            run,
            "model",
            lambda step: self._model(run, ids, layout, pipeline, parameters, step),
        )
        run.model_id, run.parameters = ids["model"], parameters
        run.save()

        detail = self._step(
            run, "evaluation", lambda step: self._evaluation(run, ids, step)
        )
        run.metric_name, run.metric_value = detail["metric"], detail["value"]
        run.evaluation = detail["report"]
        run.baseline = (run.evaluation or {}).get("baseline")
        run.save()

        detail = self._step(run, "endpoint", lambda step: self._endpoint(ids, step))
        run.endpoint_url = detail["url"]
        run.save()
        logger.info(
            "Loaded %s run %s: model %s, %s %.4f", run.pipeline, run.pk,
            run.model_id, run.metric_name, run.metric_value,
        )  # fmt: skip

    def _step(
        self, run: Run, name: str, work: Callable[[RunStep], None]
    ) -> dict[str, Any]:
        """Do step ``name`` unless it succeeded before; return its detail."""
        done = run.completed_step(name)
        if done is not None:
            return done.detail
        if self.heartbeat is not None:
            self.heartbeat()
        # Only a step tried before may have left an entity behind.
        self._retrying = run.steps.filter(name=name).exists()
        with run.step(name) as step:
            work(step)
        return step.detail

    def _create_once(
        self, run: Run, kind: str, entity_id: str, create: Callable[[], None]
    ) -> None:
        """Create entity ``entity_id`` unless an earlier attempt did.

        An entity that an earlier attempt left running or FAILED, on a
        backend whose jobs run in-process, is created again with the same
        parameters: the engine reruns it if its process died or it failed
        for an internal reason (a storage fault), and otherwise changes
        nothing, so a failure caused by the data stays.
        """
        found = self.backend.describe(kind, entity_id) if self._retrying else None
        again = ("PENDING", "INPROGRESS", "FAILED")
        if found is None:
            create()
        # TODO: Amazon ML keeps a FAILED entity's id for ever, so a resumed
        # run whose entity failed for the service's own reasons fails again
        # ("reused" below) and only a new run helps; an attempt number in
        # entity_ids, raised when an entity is found FAILED, would let such a
        # run resume under fresh ids.
        elif found["Status"] in again and self.backend.jobs_run_here:
            detail = f"{kind} {entity_id} was left {found['Status']}"
            run.add_event("resubmitted", detail)
            create()
        else:
            detail = f"{kind} {entity_id} existed from an earlier attempt"
            run.add_event("reused", detail)

    def _upload(self, run: Run, path: Path, step: RunStep) -> None:
        """Upload each side's features file, then their schema.

        The backend checks every file it uploads; a step cut short uploads
        all three again, replacing what it had put.
        """
        prefix = f"uploads/{run.pipeline}-{run.pk}-{run.token}-"
        locations = {
            kind: self.backend.upload(file, prefix + file.name)
            for kind, file in split_paths(path).items()
        }
        schema = schema_path(path)
        step.record(
            locations=locations,
            schema=self.backend.upload(schema, prefix + schema.name),
        )

    def _data_source(
        self,
        run: Run,
        entity: str,
        kind: str,
        path: Path,
        location: str,
        schema: dict[str, Any],
        step: RunStep,
    ) -> None:
        step.record(entity, location=location)
        self._create_once(
            run,
            "datasource",
            entity,
            lambda: self.backend.create_data_source(
                entity,
                name=f"{run.pipeline} run {run.pk} {kind} data",
                location=location,
                schema=schema,
            ),
        )
        found = self.backend.wait("datasource", entity)
        rows = _record_count(found)
        if rows is None:
            rows = self.backend.count_records(path)
        step.record(rows=rows, statistics=found.get("Statistics"))
        _warn_invalid(run.pipeline, kind, found)

    def _model(
        self,
        run: Run,
        ids: dict[str, str],
        layout: Layout,
        pipeline: Pipeline,
        parameters: dict[str, str],
        step: RunStep,
    ) -> None:
        entity = ids["model"]
        step.record(entity, parameters=parameters)
        self._create_once(
            run,
            "mlmodel",
            entity,
            lambda: self.backend.create_ml_model(
                entity,
                name=f"{run.pipeline} run {run.pk}",
                model_type=layout.model_type,
                parameters=parameters,
                data_source_id=ids["train_datasource"],
                recipe=pipeline.recipe,
            ),
        )
        found = self.backend.wait("mlmodel", entity)
        step.record(training=found.get("Training"))

    def _evaluation(self, run: Run, ids: dict[str, str], step: RunStep) -> None:
        entity = ids["evaluation"]
        step.record(entity)
        self._create_once(
            run,
            "evaluation",
            entity,
            lambda: self.backend.create_evaluation(
                entity,
                name=f"{run.pipeline} run {run.pk} evaluation",
                model_id=ids["model"],
                data_source_id=ids["evaluation_datasource"],
            ),
        )
        found = self.backend.wait("evaluation", entity)
        metric, value = _metric(found)
        step.record(metric=metric, value=value, report=found.get("Report"))

    def _endpoint(self, ids: dict[str, str], step: RunStep) -> None:
        model = ids["model"]
        step.record(model)
        status = "NONE"
        if self._retrying:
            found = self.backend.describe("mlmodel", model)
            status = found["EndpointInfo"]["EndpointStatus"]
        if status not in ("READY", "UPDATING"):
            self.backend.create_realtime_endpoint(model)
        info = self.backend.wait_for_endpoint(model)
        step.record(url=info["EndpointUrl"])


def _warn_invalid(pipeline: str, kind: str, data_source: dict[str, Any]) -> None:
    records = (data_source.get("Statistics") or {}).get("records") or {}
    if records.get("invalid"):
        logger.warning(
            "Pipeline %s: the %s data source %s skipped %s invalid records: %s",
            pipeline, kind, data_source.get("DataSourceId"), records["invalid"],
            "; ".join(records.get("problems") or [])[:1000],
        )  # fmt: skip


def _metric(evaluation: dict[str, Any]) -> tuple[str, float]:
    ((name, value),) = evaluation["PerformanceMetrics"]["Properties"].items()
    return name, float(value)


def _record_count(data_source: dict[str, Any]) -> int | None:
    """Return the rows a data source selected, when the backend tells."""
    records = (data_source.get("Statistics") or {}).get("records") or {}
    return records.get("selected")
