"""The embedded engine: Amazon ML's API, run offline on a store.

:class:`Engine` offers the Amazon ML operations the project uses, with
Amazon's keyword names, so callers can drive it or a boto3 client through
the same calls. Jobs run synchronously inside the ``create_*`` call: the
entity is saved as PENDING, then INPROGRESS, then COMPLETED or FAILED (with
a ``Message``); read the outcome with the matching ``get_*``.

Bad request parameters raise :class:`InvalidInputException` at once. Data
problems found while a job runs make the entity FAILED instead. Entities are
JSON documents in the store (see :mod:`repository`), so engines in other
processes sharing the store see them.

[ENGINE] rules where AWS is silent (spec §19.27-30), besides those of
:mod:`entities`:

* Deleting a model also removes its realtime endpoint.
* ``ScoreThreshold`` may be set on any model but only BINARY models use it.
* Timestamps are returned as timezone-aware ``datetime`` objects, as boto3
  returns them.

Beyond Amazon's outputs, GetDataSource adds ``Statistics`` and
GetEvaluation adds ``Report``; both are described in :mod:`statistics` and
:func:`jobs.evaluate_model`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from mlpipeline.engine import jobs
from mlpipeline.engine.alerts import evaluation_alerts
from mlpipeline.engine.batch import BatchPredictionOperations
from mlpipeline.engine.entities import (
    check_entity_name,
    check_id,
    check_store_name,
)
from mlpipeline.engine.errors import (
    EngineError,
    InvalidInputException,
    JobFailedError,
    LimitExceededException,
    PredictorNotMountedException,
)
from mlpipeline.engine.listing import DescribeOperations
from mlpipeline.engine.params import parse_parameters
from mlpipeline.engine.predictor import Predictor
from mlpipeline.engine.recipe import MAX_RECIPE_CHARS, parse_recipe
from mlpipeline.engine.repository import api_view
from mlpipeline.engine.schema import Schema, parse_schema
from mlpipeline.engine.split import parse_rearrangement
from mlpipeline.engine.store import Store

__all__ = ["DEFAULT_ENDPOINT_URL", "Engine"]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT_URL = "https://realtime.machinelearning.us-east-1.amazonaws.com"
PEAK_REQUESTS_PER_SECOND = 200
_MODEL_TYPES = ("BINARY", "MULTICLASS", "REGRESSION")
_TARGET_TYPES = {
    "BINARY": "BINARY",
    "MULTICLASS": "CATEGORICAL",
    "REGRESSION": "NUMERIC",
}
_DATA_SPEC_KEYS = frozenset(
    {"DataLocationS3", "DataRearrangement", "DataSchema", "DataSchemaLocationS3"}
)
_PREDICTOR_CACHE = 16
#: Suffixes of a trained model's files: weights, fitted feature space.
_MODEL_FILES = (".npz", ".features.json")


def _empty_endpoint() -> dict[str, Any]:
    return {"PeakRequestsPerSecond": 0, "EndpointStatus": "NONE"}


class Engine(BatchPredictionOperations, DescribeOperations):
    """Amazon ML's API on top of a :class:`~mlpipeline.engine.store.Store`.

    Batch predictions come from :mod:`batch`, Describe* and botocore's
    waiters and paginators from :mod:`listing`, tags from :mod:`tags`.

    Parameters
    ----------
    store : Store
        Holds data files and the engine's entities.
    endpoint_url : str, optional
        Realtime endpoint URL; ``{model_id}`` is replaced by the model id.
        Defaults to Amazon's us-east-1 realtime host.
    wait_timeout : float, default 3600
        Seconds a job waits for a dependency still running elsewhere.
    poll_interval : float, default 0.5
        Seconds between checks while waiting.
    max_predict_rate : int, optional
        Predict calls allowed per model in any one second before
        :class:`LimitExceededException`; Amazon's endpoints allowed 200.
        ``None`` (the default) sets no limit. The count is kept per engine
        object, so each process has its own.
    clock : callable, default time.monotonic
        Seconds for the rate limit; tests pass their own.
    temp_dir : str, optional
        Local folder where training and evaluation jobs keep temporary files
        (encoded rows, sorted scores, residuals); the system's temporary
        folder if ``None``.
    """

    def __init__(
        self,
        store: Store,
        endpoint_url: str | None = None,
        *,
        wait_timeout: float = 3600.0,
        poll_interval: float = 0.5,
        max_predict_rate: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        temp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(store, wait_timeout=wait_timeout, poll_interval=poll_interval)
        self.temp_dir = None if temp_dir is None else os.fspath(temp_dir)
        self.endpoint_url = endpoint_url or DEFAULT_ENDPOINT_URL
        self.max_predict_rate = max_predict_rate
        self.clock = clock
        self._predictors: OrderedDict[str, Predictor] = OrderedDict()
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def create_data_source_from_s3(
        self,
        *,
        DataSourceId: str,
        DataSpec: dict[str, Any],
        DataSourceName: str | None = None,
        ComputeStatistics: bool = False,
    ) -> dict[str, str]:
        """Create a data source from a CSV file in the store and read it.

        ``DataSpec["DataLocationS3"]`` is a store name (not an ``s3://``
        URL). ``DataSchema`` (JSON) or ``DataSchemaLocationS3`` (a store
        name) gives the schema; ``DataRearrangement`` selects records.

        Returns
        -------
        dict
            ``{"DataSourceId": ...}``.

        Raises
        ------
        InvalidInputException
            On a bad id, name, spec, schema or rearrangement.
        IdempotentParameterMismatchException
            If the id exists with other parameters.
        """
        entity_id = check_id(DataSourceId, "DataSourceId")
        name = check_entity_name(DataSourceName, "DataSourceName")
        if not isinstance(ComputeStatistics, bool):
            raise InvalidInputException(
                f"ComputeStatistics must be true or false, got {ComputeStatistics!r}."
            )
        location, schema, rearrangement = self._check_data_spec(DataSpec)
        request = {
            "DataSourceName": name,
            "DataSpec": DataSpec,
            "ComputeStatistics": ComputeStatistics,
        }
        if self._replayed("datasource", entity_id, request):
            return {"DataSourceId": entity_id}

        api: dict[str, Any] = {"DataSourceId": entity_id, "DataLocationS3": location}
        if DataSpec.get("DataRearrangement"):
            api["DataRearrangement"] = DataSpec["DataRearrangement"]
        if name is not None:
            api["Name"] = name
        api.update(ComputeStatistics=ComputeStatistics, NumberOfFiles=1)
        document = {
            "api": api,
            "request": request,
            "schema": schema.to_json(),
            "statistics": None,
        }

        def work(doc: dict[str, Any]) -> None:
            size, statistics = jobs.build_data_source(
                self.store, location, schema, rearrangement, ComputeStatistics
            )
            doc["api"]["DataSizeInBytes"] = size
            doc["statistics"] = statistics

        self._create("datasource", entity_id, document, work, ComputeStatistics)
        return {"DataSourceId": entity_id}

    def _check_data_spec(self, spec: Any) -> tuple[str, Schema, Any]:
        if not isinstance(spec, dict):
            raise InvalidInputException(
                f"DataSpec must be a map, got {type(spec).__name__}."
            )
        unknown = sorted(set(spec) - _DATA_SPEC_KEYS)
        if unknown:
            raise InvalidInputException(f"DataSpec has the unknown key {unknown[0]!r}.")
        if "DataLocationS3" not in spec:
            raise InvalidInputException("DataSpec needs DataLocationS3.")
        location = check_store_name(spec["DataLocationS3"], "DataLocationS3")
        text = spec.get("DataSchema")
        if text is None and spec.get("DataSchemaLocationS3") is not None:
            schema_name = check_store_name(
                spec["DataSchemaLocationS3"], "DataSchemaLocationS3"
            )
            text = self._read_text(schema_name, "DataSchemaLocationS3")
        if text is None:
            raise InvalidInputException(
                "DataSpec needs DataSchema or DataSchemaLocationS3."
            )
        schema = parse_schema(text)
        rearrangement = parse_rearrangement(spec.get("DataRearrangement"))
        return location, schema, rearrangement

    def get_data_source(
        self, *, DataSourceId: str, Verbose: bool = False
    ) -> dict[str, Any]:
        """Return a data source as GetDataSource does, plus ``Statistics``.

        ``DataSourceSchema`` is included when ``Verbose`` is true.

        Raises
        ------
        ResourceNotFoundException
            If no data source has this id.
        """
        document = self._get("datasource", DataSourceId, "DataSourceId")
        out = api_view(document["api"])
        if Verbose:
            out["DataSourceSchema"] = document["schema"]
        out["Statistics"] = document["statistics"]
        return out

    def update_data_source(
        self, *, DataSourceId: str, DataSourceName: str
    ) -> dict[str, str]:
        """Rename a data source."""
        self._rename(
            "datasource", DataSourceId, "DataSourceId", DataSourceName, "DataSourceName"
        )
        return {"DataSourceId": DataSourceId}

    def delete_data_source(self, *, DataSourceId: str) -> dict[str, str]:
        """Mark a data source DELETED; it stays readable with Get."""
        self._delete("datasource", DataSourceId, "DataSourceId")
        return {"DataSourceId": DataSourceId}

    def create_ml_model(
        self,
        *,
        MLModelId: str,
        MLModelType: str,
        TrainingDataSourceId: str,
        MLModelName: str | None = None,
        Parameters: dict[str, str] | None = None,
        Recipe: str | None = None,
        RecipeUri: str | None = None,
    ) -> dict[str, str]:
        """Create a model and train it on a data source.

        Without ``Recipe`` or ``RecipeUri`` (a store name), the suggested
        recipe is built from the data source statistics.

        Returns
        -------
        dict
            ``{"MLModelId": ...}``.

        Raises
        ------
        InvalidInputException
            On bad parameters, a recipe that does not fit the schema, a
            target whose type does not suit ``MLModelType``, or a data
            source that is missing, FAILED, DELETED or without statistics.
        IdempotentParameterMismatchException
            If the id exists with other parameters.
        """
        entity_id = check_id(MLModelId, "MLModelId")
        name = check_entity_name(MLModelName, "MLModelName")
        if MLModelType not in _MODEL_TYPES:
            accepted = ", ".join(_MODEL_TYPES)
            raise InvalidInputException(
                f"MLModelType {MLModelType!r} must be one of {accepted}."
            )
        params = parse_parameters(Parameters)
        source = self._dependency(
            "datasource", TrainingDataSourceId, "TrainingDataSourceId"
        )
        if not source["api"]["ComputeStatistics"]:
            raise InvalidInputException(
                f"DataSource {TrainingDataSourceId!r} has no statistics; create it "
                "with ComputeStatistics=True to train on it."
            )
        schema = parse_schema(source["schema"])
        self._check_target(schema, MLModelType, TrainingDataSourceId)
        recipe_text = self._recipe_text(Recipe, RecipeUri)
        if recipe_text is not None:
            parse_recipe(recipe_text, schema)
        request = {
            "MLModelName": name,
            "MLModelType": MLModelType,
            "TrainingDataSourceId": TrainingDataSourceId,
            "Parameters": Parameters or {},
            "Recipe": Recipe,
            "RecipeUri": RecipeUri,
        }
        if self._replayed("mlmodel", entity_id, request):
            return {"MLModelId": entity_id}

        api: dict[str, Any] = {"MLModelId": entity_id}
        if name is not None:
            api["Name"] = name
        api.update(
            MLModelType=MLModelType,
            TrainingDataSourceId=TrainingDataSourceId,
            InputDataLocationS3=source["api"]["DataLocationS3"],
            TrainingParameters=params.echo,
            EndpointInfo=_empty_endpoint(),
        )
        document = {
            "api": api,
            "request": request,
            "schema": source["schema"],
            "recipe": recipe_text,
        }
        weights, space = (
            self._repo.file_name("mlmodel", entity_id, suffix)
            for suffix in _MODEL_FILES
        )
        files = {"weights": weights, "space": space}

        def work(doc: dict[str, Any]) -> None:
            ready = self._await("datasource", TrainingDataSourceId)
            result = jobs.train_model(
                self.store,
                files,
                entity_id,
                MLModelType,
                params,
                recipe_text,
                ready,
                schema,
                parse_rearrangement(ready["api"].get("DataRearrangement")),
                temp_dir=self.temp_dir,
            )
            doc.update(
                recipe=result["recipe"],
                meta=result["meta"],
                training=result["training"],
            )
            doc["api"]["SizeInBytes"] = result["size"]

        self._copy_tags("mlmodel", entity_id, [("datasource", TrainingDataSourceId)])
        self._create("mlmodel", entity_id, document, work)
        return {"MLModelId": entity_id}

    @staticmethod
    def _check_target(schema: Schema, model_type: str, source_id: str) -> None:
        if schema.target is None:
            raise InvalidInputException(
                f"DataSource {source_id!r} has no targetAttributeName to train on."
            )
        target_type = schema.types[schema.target]
        if target_type != _TARGET_TYPES[model_type]:
            raise InvalidInputException(
                f"A {model_type} model needs a {_TARGET_TYPES[model_type]} target, "
                f"but {schema.target!r} of DataSource {source_id!r} is {target_type}."
            )

    def _recipe_text(self, recipe: Any, recipe_uri: Any) -> str | None:
        if recipe and recipe_uri:
            raise InvalidInputException("Give Recipe or RecipeUri, not both.")
        if recipe_uri:
            recipe = self._read_text(
                check_store_name(recipe_uri, "RecipeUri"), "RecipeUri"
            )
        if recipe is None or recipe == "":
            return None
        if not isinstance(recipe, str) or len(recipe) > MAX_RECIPE_CHARS:
            raise InvalidInputException(
                f"Recipe must be a JSON string of at most {MAX_RECIPE_CHARS} "
                "characters."
            )
        return recipe

    def get_ml_model(self, *, MLModelId: str, Verbose: bool = False) -> dict[str, Any]:
        """Return a model as GetMLModel does.

        ``Recipe`` and ``Schema`` are included when ``Verbose`` is true.

        Raises
        ------
        ResourceNotFoundException
            If no model has this id.
        """
        document = self._get("mlmodel", MLModelId, "MLModelId", to_read=True)
        out = api_view(document["api"])
        if Verbose:
            if document.get("recipe") is not None:
                out["Recipe"] = document["recipe"]
            out["Schema"] = document["schema"]
        return out

    def update_ml_model(
        self,
        *,
        MLModelId: str,
        MLModelName: str | None = None,
        ScoreThreshold: float | None = None,
    ) -> dict[str, str]:
        """Rename a model and/or set its BINARY score threshold.

        Raises
        ------
        InvalidInputException
            If the threshold is not a finite number or the model is DELETED.
        ResourceNotFoundException
            If no model has this id.
        """
        valid = (
            isinstance(ScoreThreshold, int | float)
            and not isinstance(ScoreThreshold, bool)
            and math.isfinite(ScoreThreshold)
        )
        if ScoreThreshold is not None and not valid:
            raise InvalidInputException(
                f"ScoreThreshold must be a finite number, got {ScoreThreshold!r}."
            )
        document = self._rename(
            "mlmodel", MLModelId, "MLModelId", MLModelName, "MLModelName"
        )
        if ScoreThreshold is not None:
            api = document["api"]
            api["ScoreThreshold"] = float(ScoreThreshold)
            api["ScoreThresholdLastUpdatedAt"] = api["LastUpdatedAt"]
            self._repo.save("mlmodel", MLModelId, document)
        return {"MLModelId": MLModelId}

    def delete_ml_model(self, *, MLModelId: str) -> dict[str, str]:
        """Mark a model DELETED and remove its realtime endpoint."""
        document = self._get("mlmodel", MLModelId, "MLModelId")
        document["api"].update(Status="DELETED", EndpointInfo=_empty_endpoint())
        self._touch("mlmodel", MLModelId, document)
        with self._lock:
            self._predictors.pop(MLModelId, None)
        return {"MLModelId": MLModelId}

    def model_files(self, model_id: str) -> list[str]:
        """Return the store names a model's trained files have or had.

        Its weights and feature space, where they are and, for models
        trained before they moved, where they were. DeleteMLModel keeps
        them, as it keeps the model's document, so that a deleted model
        stays readable with Get; a caller that wants the storage back
        deletes these files once the model is gone.
        """
        return [
            name
            for suffix in _MODEL_FILES
            for name in (
                self._repo.file_name("mlmodel", model_id, suffix),
                self._repo.name("mlmodel", model_id).removesuffix(".json") + suffix,
            )
        ]

    def load_model(self, model_id: str) -> Predictor:
        """Return the predictor of a COMPLETED model, loading it once.

        Models never change after training, so predictors are cached per
        id. The predictor's score threshold is the model's at load time;
        :meth:`predict` always applies the current one.

        Raises
        ------
        ResourceNotFoundException
            If no model has this id.
        InvalidInputException
            If the model is not COMPLETED.
        EngineError
            If its weights file holds pickled objects or is damaged.
        """
        with self._lock:
            if model_id in self._predictors:
                self._predictors.move_to_end(model_id)
                return self._predictors[model_id]
        document = self._get("mlmodel", model_id, "MLModelId")
        if document["api"]["Status"] != "COMPLETED":
            raise InvalidInputException(
                f"MLModel {model_id!r} is {document['api']['Status']}, not COMPLETED."
            )
        space = json.loads(self._repo.read_file("mlmodel", model_id, ".features.json"))
        weights = self._repo.read_file("mlmodel", model_id, ".npz")
        try:
            predictor = Predictor.from_files(document["meta"], space, weights)
        except ValueError as err:
            raise EngineError(f"MLModel {model_id!r} cannot be loaded: {err}.") from err
        if "ScoreThreshold" in document["api"]:
            predictor.score_threshold = document["api"]["ScoreThreshold"]
        with self._lock:
            self._predictors[model_id] = predictor
            while len(self._predictors) > _PREDICTOR_CACHE:
                self._predictors.popitem(last=False)
        return predictor

    def create_evaluation(
        self,
        *,
        EvaluationId: str,
        MLModelId: str,
        EvaluationDataSourceId: str,
        EvaluationName: str | None = None,
    ) -> dict[str, str]:
        """Create an evaluation and score the model on a data source.

        Returns
        -------
        dict
            ``{"EvaluationId": ...}``.

        Raises
        ------
        InvalidInputException
            On bad ids, a model or data source that is missing, FAILED or
            DELETED, or a data source without the model's target.
        IdempotentParameterMismatchException
            If the id exists with other parameters.
        """
        entity_id = check_id(EvaluationId, "EvaluationId")
        name = check_entity_name(EvaluationName, "EvaluationName")
        model = self._dependency("mlmodel", MLModelId, "MLModelId")
        source = self._dependency(
            "datasource", EvaluationDataSourceId, "EvaluationDataSourceId"
        )
        target = parse_schema(model["schema"]).target
        schema = parse_schema(source["schema"])
        if target not in schema.types:
            raise InvalidInputException(
                f"DataSource {EvaluationDataSourceId!r} lacks the target attribute "
                f"{target!r} of MLModel {MLModelId!r}."
            )
        request = {
            "EvaluationName": name,
            "MLModelId": MLModelId,
            "EvaluationDataSourceId": EvaluationDataSourceId,
        }
        if self._replayed("evaluation", entity_id, request):
            return {"EvaluationId": entity_id}

        api: dict[str, Any] = {
            "EvaluationId": entity_id,
            "MLModelId": MLModelId,
            "EvaluationDataSourceId": EvaluationDataSourceId,
            "InputDataLocationS3": source["api"]["DataLocationS3"],
        }
        if name is not None:
            api["Name"] = name
        document = {"api": api, "request": request, "report": None}

        def work(doc: dict[str, Any]) -> None:
            if schema.target != target:
                given = (
                    "no target"
                    if schema.target is None
                    else f"the target {schema.target!r}"
                )
                raise JobFailedError(
                    f"DataSource {EvaluationDataSourceId!r} has {given}, but "
                    f"MLModel {MLModelId!r} was trained on the target "
                    f"{target!r}; evaluate on a data source whose "
                    f"schema names {target!r} as targetAttributeName."
                )
            ready_model = self._await("mlmodel", MLModelId)
            ready_source = self._await("datasource", EvaluationDataSourceId)
            properties, report = jobs.evaluate_model(
                self.store,
                self.load_model(MLModelId),
                ready_model,
                ready_source,
                schema,
                parse_rearrangement(ready_source["api"].get("DataRearrangement")),
                temp_dir=self.temp_dir,
            )
            training_source = self._repo.load(
                "datasource", ready_model["api"]["TrainingDataSourceId"]
            )
            report["alerts"] = evaluation_alerts(
                self.store, ready_model, training_source, ready_source, report
            )
            doc["api"]["PerformanceMetrics"] = {"Properties": properties}
            doc["report"] = report

        self._copy_tags(
            "evaluation",
            entity_id,
            [("datasource", EvaluationDataSourceId), ("mlmodel", MLModelId)],
        )
        self._create("evaluation", entity_id, document, work)
        return {"EvaluationId": entity_id}

    def get_evaluation(self, *, EvaluationId: str) -> dict[str, Any]:
        """Return an evaluation as GetEvaluation does, plus ``Report``.

        ``Report`` holds the metric, its baseline, record counts, the target
        distribution, the confusion matrix of a classifier and the alerts
        of :mod:`alerts`.

        Raises
        ------
        ResourceNotFoundException
            If no evaluation has this id.
        """
        document = self._get("evaluation", EvaluationId, "EvaluationId")
        out = api_view(document["api"])
        out["Report"] = document["report"]
        return out

    def update_evaluation(
        self, *, EvaluationId: str, EvaluationName: str
    ) -> dict[str, str]:
        """Rename an evaluation."""
        self._rename(
            "evaluation", EvaluationId, "EvaluationId", EvaluationName, "EvaluationName"
        )
        return {"EvaluationId": EvaluationId}

    def delete_evaluation(self, *, EvaluationId: str) -> dict[str, str]:
        """Mark an evaluation DELETED; it stays readable with Get."""
        self._delete("evaluation", EvaluationId, "EvaluationId")
        return {"EvaluationId": EvaluationId}

    def create_realtime_endpoint(self, *, MLModelId: str) -> dict[str, Any]:
        """Mount a COMPLETED model for :meth:`predict`.

        The endpoint goes UPDATING, then READY once the model is loaded.

        Raises
        ------
        ResourceNotFoundException
            If no model has this id.
        InvalidInputException
            If the model is not COMPLETED.
        """
        document = self._get("mlmodel", MLModelId, "MLModelId")
        api = document["api"]
        if api["Status"] != "COMPLETED":
            raise InvalidInputException(
                f"MLModel {MLModelId!r} is {api['Status']}; only a COMPLETED model "
                "can get a realtime endpoint."
            )
        if api["EndpointInfo"]["EndpointStatus"] != "READY":
            api["EndpointInfo"] = {
                "PeakRequestsPerSecond": 0,
                "EndpointStatus": "UPDATING",
            }
            self._touch("mlmodel", MLModelId, document)
            self.load_model(MLModelId)
            api["EndpointInfo"] = {
                "PeakRequestsPerSecond": PEAK_REQUESTS_PER_SECOND,
                "CreatedAt": time.time(),
                "EndpointUrl": self.endpoint_url.replace("{model_id}", MLModelId),
                "EndpointStatus": "READY",
            }
            self._touch("mlmodel", MLModelId, document)
        return {
            "MLModelId": MLModelId,
            "RealtimeEndpointInfo": api_view(api["EndpointInfo"]),
        }

    def delete_realtime_endpoint(self, *, MLModelId: str) -> dict[str, Any]:
        """Unmount a model's realtime endpoint (status back to NONE)."""
        document = self._get("mlmodel", MLModelId, "MLModelId")
        document["api"]["EndpointInfo"] = _empty_endpoint()
        self._touch("mlmodel", MLModelId, document)
        return {"MLModelId": MLModelId, "RealtimeEndpointInfo": _empty_endpoint()}

    def predict(
        self, *, MLModelId: str, Record: dict[str, str], PredictEndpoint: str
    ) -> dict[str, Any]:
        """Predict one record through a model's realtime endpoint.

        Returns
        -------
        dict
            ``{"Prediction": {...}}`` shaped as Amazon ML's Predict output.

        Raises
        ------
        ResourceNotFoundException
            If no model has this id.
        PredictorNotMountedException
            If the model's endpoint is not READY.
        InvalidInputException
            If ``PredictEndpoint`` is not the model's endpoint URL or the
            record is not a map of strings.
        LimitExceededException
            Above ``max_predict_rate`` calls in one second, when set.
        """
        document = self._get("mlmodel", MLModelId, "MLModelId", to_read=True)
        api = document["api"]
        endpoint = api["EndpointInfo"]
        if endpoint["EndpointStatus"] != "READY":
            raise PredictorNotMountedException(
                f"MLModel {MLModelId!r} has no READY realtime endpoint; create one "
                "with create_realtime_endpoint first."
            )
        given = (
            PredictEndpoint.rstrip("/") if isinstance(PredictEndpoint, str) else None
        )
        if given != endpoint["EndpointUrl"].rstrip("/"):
            raise InvalidInputException(
                f"PredictEndpoint {PredictEndpoint!r} is not the endpoint of MLModel "
                f"{MLModelId!r} ({endpoint['EndpointUrl']!r})."
            )
        self._count_call(MLModelId)
        predictor = self.load_model(MLModelId)
        threshold = api.get("ScoreThreshold", predictor.score_threshold)
        return {"Prediction": predictor.predict(Record, score_threshold=threshold)}

    def _count_call(self, model_id: str) -> None:
        """Count a Predict call; refuse it above ``max_predict_rate``."""
        if self.max_predict_rate is None:
            return
        now = self.clock()
        with self._lock:
            calls = self._calls.setdefault(model_id, deque())
            while calls and calls[0] <= now - 1.0:
                calls.popleft()
            if len(calls) >= self.max_predict_rate:
                raise LimitExceededException(
                    f"MLModel {model_id!r} got more than {self.max_predict_rate} "
                    "Predict calls in one second; slow down and retry."
                )
            calls.append(now)
