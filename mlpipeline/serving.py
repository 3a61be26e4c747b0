"""Serving: which model answers for a pipeline, and asking it.

The model that serves a pipeline is the one of its newest succeeded run, so
a run that fails leaves the serving model as it was. Models are immutable,
so the embedded engine's loaded predictors are kept per process by model
id; the cache is cleared when the storage settings change.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from mlpipeline.backends import get_backend
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.exceptions import RunNotFound
from mlpipeline.models import Run
from mlpipeline.schema import format_value

__all__ = ["embedded_predict", "embedded_predictor", "predict", "serving_run"]


def serving_run(pipeline: str) -> Run:
    """Return the run whose model serves ``pipeline``."""
    run = (
        Run.objects.filter(pipeline=pipeline, status=Run.Status.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )
    if run is None:
        raise RunNotFound(
            f"Pipeline {pipeline!r} has no trained model yet; run "
            f"'manage.py learn {pipeline}'."
        )
    return run


def predict(pipeline: str, record: dict[str, Any]) -> dict[str, Any]:
    """Return the serving model's prediction for ``record``.

    ``record`` maps attribute names to values; they are sent as strings, as
    Amazon ML expects, and ``None`` means missing. The result has Amazon
    ML's Prediction shape (``predictedLabel`` and ``predictedScores``, or
    ``predictedValue``).
    """
    run = serving_run(pipeline)
    values = {key: format_value(value) for key, value in record.items()}
    backend = get_backend(run.backend)
    if isinstance(backend, EmbeddedBackend):
        model = backend.client.get_ml_model(MLModelId=run.model_id)
        return embedded_predict(run.backend, model, values)
    return backend.predict(run.model_id, values, run.endpoint_url)


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


@receiver(setting_changed)
def _forget_predictors(*, setting: str, **kwargs: Any) -> None:
    if setting in ("STORAGES", "MEDIA_ROOT") or setting.startswith("MLPIPELINE_"):
        embedded_predictor.cache_clear()
