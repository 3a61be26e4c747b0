"""Load: hand the features file to a backend and build a served model.

The :class:`Loader` drives the steps of the original rake task on whichever
backend a pipeline uses: upload the file, create a training and an
evaluation data source (a seeded random split and its complement, with
statistics), train the model, evaluate it and create its realtime endpoint,
waiting for each. Every step is recorded on the run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mlpipeline import preflight
from mlpipeline.backends import Backend
from mlpipeline.exceptions import DataError
from mlpipeline.models import Run
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import Layout
from mlpipeline.transform import schema_path

__all__ = ["Loader", "entity_ids", "rearrangements", "training_parameters"]

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


def entity_ids(pipeline: str, run_pk: int) -> dict[str, str]:
    """Return the backend ids of a run's entities, unique per run."""
    base = f"{pipeline}-{run_pk}"
    return {
        "train_datasource": f"ds-{base}-train",
        "evaluation_datasource": f"ds-{base}-evaluation",
        "model": f"ml-{base}",
        "evaluation": f"ev-{base}",
    }


def rearrangements(percent: int, seed: str) -> tuple[dict, dict]:
    """Return the DataRearrangement of the training and evaluation sources."""
    splitting = {
        "percentBegin": 0,
        "percentEnd": percent,
        "strategy": "random",
        "strategyParams": {"randomSeed": seed},
    }
    return {"splitting": splitting}, {"splitting": {**splitting, "complement": True}}


def training_parameters(pipeline: Pipeline) -> dict[str, str]:
    """Return the Amazon ML training parameters of ``pipeline`` as strings."""
    parameters = dict(DEFAULT_PARAMETERS)
    for key, value in pipeline.sgd.items():
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


class Loader:
    """Run the load steps of one run on one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def load(self, run: Run, pipeline: Pipeline, layout: Layout, path: Path) -> None:
        """Load the features file ``path`` of ``run`` and record each step.

        On return the run holds the model id, its endpoint URL, the metric
        and the row counts of both data sources. Errors propagate after the
        failing step is recorded; nothing after that step is created.
        """
        backend = self.backend
        ids = entity_ids(run.pipeline, run.pk)
        name = run.pipeline
        schema = layout.schema()
        train_split, evaluation_split = rearrangements(
            pipeline.train_percent, pipeline.get_seed()
        )

        preflight.check(
            backend,
            layout,
            path,
            ids=ids,
            parameters=training_parameters(pipeline),
            recipe=pipeline.recipe,
        )

        with run.step("upload") as step:
            upload_name = f"uploads/{name}-{run.pk}-{path.name}"
            location = backend.upload(path, upload_name)
            backend.upload(schema_path(path), upload_name + ".schema")
            step.record(location=location)

        counts = {}
        for kind, split in (
            ("train", train_split),
            ("evaluation", evaluation_split),
        ):
            with run.step(f"{kind}_datasource") as step:
                entity = ids[f"{kind}_datasource"]
                step.record(entity, rearrangement=split)
                backend.create_data_source(
                    entity,
                    name=f"{name} run {run.pk} {kind} data",
                    location=location,
                    schema=schema,
                    rearrangement=split,
                )
                found = backend.wait("datasource", entity)
                counts[kind] = _record_count(found)
                if counts[kind] is None:
                    counts[kind] = backend.count_selected(path, split)
                step.record(rows=counts[kind], statistics=found.get("Statistics"))
                _warn_invalid(name, kind, found)
        run.rows_train, run.rows_evaluation = counts["train"], counts["evaluation"]
        if None not in counts.values() and sum(counts.values()) != run.rows_written:
            raise DataError(
                f"Pipeline {name!r} run {run.pk}: the data sources hold "
                f"{counts['train']} + {counts['evaluation']} rows, but "
                f"{run.rows_written} were written."
            )
        run.save()

        with run.step("model") as step:
            entity = ids["model"]
            parameters = training_parameters(pipeline)
            step.record(entity, parameters=parameters)
            backend.create_ml_model(
                entity,
                name=f"{name} run {run.pk}",
                model_type=layout.model_type,
                parameters=parameters,
                data_source_id=ids["train_datasource"],
                recipe=pipeline.recipe,
            )
            found = backend.wait("mlmodel", entity)
            step.record(training=found.get("Training"))
        run.model_id = entity
        run.parameters = parameters
        run.save()

        with run.step("evaluation") as step:
            entity = ids["evaluation"]
            step.record(entity)
            backend.create_evaluation(
                entity,
                name=f"{name} run {run.pk} evaluation",
                model_id=ids["model"],
                data_source_id=ids["evaluation_datasource"],
            )
            found = backend.wait("evaluation", entity)
            metric_name, value = _metric(found)
            step.record(metric=metric_name, value=value)
        run.metric_name, run.metric_value = metric_name, value
        run.evaluation = found.get("Report")
        run.baseline = (run.evaluation or {}).get("baseline")
        run.save()

        with run.step("endpoint") as step:
            step.record(ids["model"])
            backend.create_realtime_endpoint(ids["model"])
            info = backend.wait_for_endpoint(ids["model"])
            step.record(url=info["EndpointUrl"])
        run.endpoint_url = info["EndpointUrl"]
        run.save()
        logger.info(
            "Loaded %s run %s: model %s, %s %.4f", name, run.pk, run.model_id,
            metric_name, value,
        )  # fmt: skip


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
