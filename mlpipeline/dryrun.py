"""Dry runs: every backend call a run would make, made by no one.

:func:`dry_run` extracts and transforms a pipeline's rows into a temporary
folder, then lets the real :class:`~mlpipeline.load.Loader` drive a stand-in
for the pipeline's backend. The stand-in writes each call down with its
parameters and answers it as if it had succeeded at once; the backend's own
code still builds every request, so what is written down is what the
backend would send. Uploads are described, not made.

The run record the Loader needs lives in a transaction that is rolled back,
so the database ends as it began. Entity ids show the number that record
took; a real run takes a number of its own.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from mlpipeline.backends import Backend, get_backend
from mlpipeline.conf import settings
from mlpipeline.extract import extract
from mlpipeline.load import Loader
from mlpipeline.models import Run
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import layout_for
from mlpipeline.transform import transform

__all__ = ["Call", "DryRun", "dry_run"]

_METRICS = {
    "BINARY": "BinaryAUC",
    "MULTICLASS": "MulticlassAvgFScore",
    "REGRESSION": "RegressionRMSE",
}
_ENDPOINT_URL = "(the URL the service gives the endpoint)"


@dataclass
class Call:
    """One call a run would make: the backend method and its parameters."""

    method: str
    params: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {json.dumps(self.params, default=str)}"


@dataclass
class DryRun:
    """What a dry run of one pipeline found."""

    pipeline: str
    backend: str
    #: Number of the rolled-back run record, which the entity ids carry.
    run_number: int
    #: Token of that run, which the entity ids carry as well.
    run_token: str
    #: Rows written to the features file.
    rows: int
    rows_train: int | None
    rows_evaluation: int | None
    rows_extracted: int = 0
    #: Rows the transform left out (see ``Pipeline.max_rejected``).
    rows_rejected: int = 0
    calls: list[Call] = field(default_factory=list)


class _RecordingClient:
    """Write Amazon ML calls down and answer each as if it succeeded."""

    def __init__(self, calls: list[Call], model_type: str) -> None:
        self.calls = calls
        self.model_type = model_type

    def __getattr__(self, method: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append(Call(method, params))
            return self._answer(method, params)

        return call

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = {key: value for key, value in params.items() if key.endswith("Id")}
        if method.startswith("get_"):
            answer["Status"] = "COMPLETED"
        if method == "get_ml_model":
            answer["EndpointInfo"] = {
                "EndpointStatus": "READY",
                "EndpointUrl": _ENDPOINT_URL,
            }
        if method == "get_evaluation":
            # A number the run record takes (JSON has no NaN); it is not kept.
            metric = _METRICS[self.model_type]
            answer["PerformanceMetrics"] = {"Properties": {metric: "0"}}
        return answer


class _StandIn:
    """Let ``backend`` build every request, but record them instead."""

    def __init__(self, backend: Backend, calls: list[Call], model_type: str) -> None:
        # The client is a cached property; setting it keeps the real one
        # from ever being made.
        backend.client = _RecordingClient(calls, model_type)
        self._backend = backend
        self._calls = calls

    def upload(self, path: Path, name: str) -> str:
        described = self._backend.describe_upload(path, name)
        self._calls.append(Call("upload", {"File": path.name, **described}))
        return described["Location"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def dry_run(pipeline: Pipeline) -> DryRun:
    """Return the calls a run of ``pipeline`` would make, making none.

    Reads the pipeline's rows and writes its files to a temporary folder
    that is removed afterwards. Raise what a real run would raise before
    its first upload: declaration, data and pre-flight errors.
    """
    layout = layout_for(pipeline)
    alias = pipeline.backend or settings.DEFAULT_BACKEND
    calls: list[Call] = []
    backend = _StandIn(get_backend(alias), calls, layout.model_type)

    with (
        tempfile.TemporaryDirectory(prefix="mlpipeline-dry-run-") as folder,
        transaction.atomic(),
    ):
        rows_path = Path(folder) / "rows.csv"
        features_path = Path(folder) / "features.csv"
        run = Run.objects.create(
            pipeline=layout.pipeline, backend=alias, model_type=layout.model_type
        )
        run.rows_extracted = extract(
            pipeline,
            layout,
            rows_path,
            chunk_size=pipeline.chunk_size or settings.CHUNK_SIZE,
        )
        result = transform(layout, rows_path, features_path)
        run.rows_written, run.rows_rejected = result.rows, result.rejected
        run.schema = result.schema
        run.check_counts()
        # TODO: the Loader logs "Loaded <pipeline> run <n>" here too, with the
        # stand-in metric 0; a dry-run flag on the Loader would let that log
        # line say it was a dry run.
        Loader(backend).load(run, pipeline, layout, features_path)
        transaction.set_rollback(True)

    return DryRun(
        pipeline=layout.pipeline,
        backend=alias,
        run_number=run.pk,
        run_token=run.token,
        rows=run.rows_written,
        rows_train=run.rows_train,
        rows_evaluation=run.rows_evaluation,
        rows_extracted=run.rows_extracted,
        rows_rejected=run.rows_rejected,
        calls=calls,
    )
