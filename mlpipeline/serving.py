"""Serving: which model answers for a pipeline, and asking it.

The model that serves a pipeline is its active model in the registry
(:mod:`mlpipeline.registry`), so a failed run or a refused model leaves the
serving model as it was. Before each prediction a :class:`ModelCache` reads
the pipeline's version (one small query); while it is unchanged the cached
active model is used, and a promotion or rollback made by any process is
picked up by the next prediction, with no restart. Models are immutable, so
loaded embedded predictors are kept per cache by model id; a prediction in
flight during a switch finishes with the model it started with.

A record to predict holds the pipeline's source fields, as the predictor
page's form does; :func:`record_features` expands them with the
transform's own code (:func:`~mlpipeline.transform.expand_row`), so the
page, the prediction API and a Python caller all send the model the
features it was trained on.
"""

from __future__ import annotations

import collections
import functools
import threading
from typing import Any

from django.core.signals import setting_changed
from django.db import connections, router
from django.dispatch import receiver

from mlpipeline.backends import get_backend
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.conf import settings
from mlpipeline.exceptions import (
    DataError,
    InvalidRecord,
    ModelUnavailable,
    PipelineDeclarationError,
    RunNotFound,
)
from mlpipeline.models import PipelineState, Run, TrainedModel
from mlpipeline.pipeline import site
from mlpipeline.registry import active_model, active_state
from mlpipeline.schema import Layout, format_value, layout_for
from mlpipeline.transform import expand_row

__all__ = [
    "ModelCache",
    "embedded_predict",
    "embedded_predictor",
    "model_backend",
    "predict",
    "record_features",
    "serving_backend",
    "serving_run",
    "top_labels",
]


class ModelCache:
    """One process's view of the active models, checked before every use.

    Each instance keeps its own active models (by pipeline, with the
    version they were read at) and its own loaded embedded predictors (by
    model id, at most ``size``); the module keeps one for :func:`predict`.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._active: dict[str, tuple[int, TrainedModel]] = {}
        self._predictors: collections.OrderedDict[tuple[str, str], Any] = (
            collections.OrderedDict()
        )
        self._layouts: dict[str, tuple[Any, Layout]] = {}
        self._lock = threading.Lock()

    def layout(self, pipeline: str) -> Layout | None:
        """Return the layout of ``pipeline``'s declaration, checked once.

        Return None when no pipeline of that name is in the site (a
        pipeline learned by ``learn(Pipeline())`` without registering it).
        """
        try:
            declared = site.get(pipeline)
        except PipelineDeclarationError:
            return None
        cached = self._layouts.get(pipeline)
        if cached is not None and cached[0] is declared:
            return cached[1]
        layout = layout_for(declared)
        self._layouts[pipeline] = (declared, layout)
        return layout

    def active(self, pipeline: str) -> TrainedModel:
        """Return ``pipeline``'s active model, fresh as of this call."""
        version = _version(pipeline)
        cached = self._active.get(pipeline)
        if cached is not None and cached[0] == version:
            return cached[1]
        state = active_state(pipeline)
        self._active[pipeline] = (state.version, state.active_model)
        return state.active_model

    def predictor(self, backend_alias: str, model_id: str) -> Any:
        """Return embedded model ``model_id``, loading it on first use."""
        key = (backend_alias, model_id)
        with self._lock:
            if key in self._predictors:
                self._predictors.move_to_end(key)
                return self._predictors[key]
        loaded = get_backend(backend_alias).client.load_model(model_id)
        with self._lock:
            self._predictors[key] = loaded
            while len(self._predictors) > self.size:
                self._predictors.popitem(last=False)
        return loaded

    def clear(self) -> None:
        """Forget every active model and predictor."""
        with self._lock:
            self._active.clear()
            self._predictors.clear()
            self._layouts.clear()


_cache = ModelCache()


def _version(pipeline: str) -> int | None:
    """Return ``pipeline``'s registry version, ``None`` if it has none.

    The query runs before every prediction, so it is written once in SQL
    rather than built by the ORM each time, which took most of its time.
    """
    alias = router.db_for_read(PipelineState)
    connection = connections[alias]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('version')} FROM {quote(PipelineState._meta.db_table)} "
        f"WHERE {quote('name')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pipeline])
        row = cursor.fetchone()
    return None if row is None else row[0]


def serving_run(pipeline: str) -> Run:
    """Return the run whose model is ``pipeline``'s active model now."""
    return active_model(pipeline).run


def predict(
    pipeline: str,
    record: dict[str, Any],
    *,
    top: int | None = None,
    cache: ModelCache | None = None,
) -> dict[str, Any]:
    """Return the active model's prediction for ``record``.

    ``record`` maps the pipeline's source fields (the columns its rows are
    extracted into, as on the predictor page) to values, ``None`` meaning
    missing; they are expanded into the model's features by
    :func:`record_features`, and sent as strings, as Amazon ML expects.
    Raise :class:`~mlpipeline.exceptions.InvalidRecord` for a value an
    expander rejects, and :class:`~mlpipeline.exceptions.ModelUnavailable`
    when the active model is no longer COMPLETED. The result has Amazon
    ML's Prediction shape (``predictedLabel`` and ``predictedScores``, or
    ``predictedValue``). With ``top``, it also holds ``topLabels``: the
    ``top`` most probable labels as ``{"label", "score"}``, best first
    (empty for a REGRESSION model). ``cache`` defaults to the process's own.
    """
    if top is not None and (isinstance(top, bool) or not 1 <= top <= 100):
        raise ValueError(f"top must be a whole number from 1 to 100, not {top!r}.")
    cache = _cache if cache is None else cache
    layout = cache.layout(pipeline)
    if layout is None:
        # Not in the site, so its expanders are unknown: the record must
        # hold the model's features already. Registering the pipeline
        # (mlpipeline.site.register) makes the record its source fields.
        values = {key: format_value(value) for key, value in record.items()}
    else:
        values = record_features(layout, record)
    try:
        model = cache.active(pipeline)
    except RunNotFound:
        if layout is None:
            known = ", ".join(p.get_name() for p in site) or "none"
            raise RunNotFound(
                f"No pipeline is declared with the name {pipeline!r}, and none "
                f"has an active model; declared pipelines: {known}."
            ) from None
        raise
    backend = serving_backend(model.backend)
    if isinstance(backend, EmbeddedBackend):
        # Read fresh, so a changed ScoreThreshold applies at once.
        description = backend.client.get_ml_model(MLModelId=model.model_id)
        if description.get("Status") != "COMPLETED":
            raise ModelUnavailable(
                f"Pipeline {pipeline!r}: its active model {model.model_id} is "
                f"{description.get('Status')}, so it cannot answer; promote or "
                "roll back to a COMPLETED model, or run the pipeline again."
            )
        predictor = cache.predictor(model.backend, model.model_id)
        prediction = predictor.predict(
            values, score_threshold=description.get("ScoreThreshold")
        )
    else:
        prediction = backend.predict(model.model_id, values, model.endpoint_url)
    if top is not None:
        prediction["topLabels"] = top_labels(prediction, model.model_type)[:top]
    return prediction


def record_features(layout: Layout, record: dict[str, Any]) -> dict[str, str]:
    """Return the features of ``record``, expanded as the transform does.

    ``record`` maps ``layout``'s source columns to values; a column it
    lacks, or holds ``None`` for, is missing, and names that are not source
    columns are ignored (unknown attributes count as missing, as on Amazon
    ML). The target and missing features are left out. Raise
    :class:`~mlpipeline.exceptions.InvalidRecord` naming the attribute and
    the value an expander rejects.
    """
    cells = []
    for column in layout.columns:
        value = record.get(column)
        cells.append("" if column == layout.target else format_value(value))
    try:
        features = expand_row(layout, cells)
    except (DataError, ValueError):
        # Expand column by column to name the value that was rejected.
        _raise_rejected(layout, cells)
        raise
    named = zip(layout.attribute_names, features, strict=True)
    return {name: value for name, value in named if value and name != layout.target}


def _raise_rejected(layout: Layout, cells: list[str]) -> None:
    for expander in layout.expanders:
        value = cells[layout.columns.index(expander.source)]
        try:
            expander.expand(value)
        except (DataError, ValueError) as err:
            raise InvalidRecord(
                f"Record attribute {expander.source!r} holds {value!r}, which its "
                f"{type(expander).__name__} rejects: {err}",
                attribute=expander.source,
                value=value,
            ) from None


def top_labels(prediction: dict[str, Any], model_type: str) -> list[dict[str, Any]]:
    """Return every label of ``prediction`` with its score, best first.

    A BINARY prediction scores only the probability of "1" (under the
    predicted label), so "0" gets the rest; ties go to the smaller label.
    """
    scores = prediction.get("predictedScores") or {}
    if model_type == "BINARY" and len(scores) == 1:
        (score,) = scores.values()
        scores = {"1": score, "0": 1.0 - score}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [{"label": label, "score": score} for label, score in ranked]


def embedded_predict(
    backend_alias: str, model: dict[str, Any], record: dict[str, str]
) -> dict[str, Any]:
    """Predict ``record`` with the embedded model that ``model`` describes.

    ``model`` is the model's GetMLModel description, read fresh by the
    caller, so a changed ScoreThreshold applies at once.
    """
    predictor = embedded_predictor(backend_alias, model["MLModelId"])
    return predictor.predict(record, score_threshold=model.get("ScoreThreshold"))


@functools.lru_cache(maxsize=32)
def embedded_predictor(backend_alias: str, model_id: str) -> Any:
    """Return the loaded embedded model ``model_id``, loading it once."""
    backend = get_backend(backend_alias)
    return backend.client.load_model(model_id)


@functools.lru_cache(maxsize=16)
def serving_backend(alias: str) -> Any:
    """Return this process's backend for ``alias``, made on first use.

    One backend, and so one boto3 client with its connection pool (or one
    engine), per alias and process, instead of one for every prediction.
    """
    return get_backend(alias)


def model_backend(model_id: str) -> str:
    """Return the backend alias of the model ``model_id``, read once.

    A registered model's alias, else its run's, else the default backend.
    Only a found model's alias is kept, since it never changes.
    """
    alias = _model_backends.get(model_id)
    if alias is None:
        known = TrainedModel.objects.filter(model_id=model_id).only("backend")
        run = known.first() or (
            Run.objects.filter(model_id=model_id).only("backend").first()
        )
        if run is None:
            return settings.DEFAULT_BACKEND
        alias = _model_backends[model_id] = run.backend
    return alias


_model_backends: dict[str, str] = {}


@receiver(setting_changed)
def _forget_predictors(*, setting: str, **kwargs: Any) -> None:
    if setting in ("STORAGES", "MEDIA_ROOT") or setting.startswith("MLPIPELINE_"):
        embedded_predictor.cache_clear()
        serving_backend.cache_clear()
        _model_backends.clear()
        _cache.clear()
