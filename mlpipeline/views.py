"""The embedded engine's realtime endpoints, answering like Amazon ML's."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from mlpipeline.backends import get_backend
from mlpipeline.conf import settings
from mlpipeline.engine import EngineError, ResourceNotFoundException
from mlpipeline.models import Run, TrainedModel
from mlpipeline.schema import format_value
from mlpipeline.serving import embedded_predict

__all__ = ["realtime"]


def _error(code: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"__type": code, "message": message}, status=status)


def _record(body: Any) -> dict[str, str]:
    """Return a Predict request's Record as strings; raise ValueError."""
    if not isinstance(body, dict) or not isinstance(body.get("Record"), dict):
        raise ValueError(
            'The request body must be a JSON object with a "Record" object.'
        )
    record = {}
    for name, value in body["Record"].items():
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            raise ValueError(
                f"Record attribute {name!r} holds {type(value).__name__} "
                f"{json.dumps(value)[:80]}; send a string."
            )
        record[name] = format_value(value)
    return record


# TODO: the endpoint answers anyone who can reach it; the registry issue adds
# token or permission checks, until then keep it behind the project's own
# network rules.
@csrf_exempt
def realtime(request: HttpRequest, model_id: str) -> JsonResponse:
    """Answer a Predict request for embedded model ``model_id``.

    The body is Amazon ML's Predict request (``{"Record": {...}}``; an
    ``MLModelId`` must match the URL). The answer is ``{"Prediction": ...}``
    or an error ``{"__type": ..., "message": ...}``, always JSON.
    """
    if request.method != "POST":
        response = _error(
            "MethodNotAllowed",
            f"Send Predict requests with POST, not {request.method}.",
            405,
        )
        response["Allow"] = "POST"
        return response
    try:
        raw = request.body
    except RequestDataTooBig:
        limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _error(
            "InvalidInputException",
            f"The request body is larger than {limit} bytes; send one record.",
            413,
        )
    try:
        body = json.loads(raw or b"null")
    except ValueError as err:
        return _error("InvalidInputException", f"The request body is not JSON: {err}.")
    try:
        record = _record(body)
    except ValueError as err:
        return _error("InvalidInputException", str(err))
    if body.get("MLModelId", model_id) != model_id:
        return _error(
            "InvalidInputException",
            f"MLModelId {body['MLModelId']!r} does not match this endpoint's model "
            f"{model_id!r}.",
        )

    # Every registered model keeps its endpoint, so a rollback needs no
    # new one; pipelines are served by their active model through predict().
    known = TrainedModel.objects.filter(model_id=model_id).only("backend").first()
    run = known or Run.objects.filter(model_id=model_id).only("backend").first()
    alias = run.backend if run is not None else settings.DEFAULT_BACKEND
    engine = get_backend(alias).client
    try:
        model = engine.get_ml_model(MLModelId=model_id)
        status = model["EndpointInfo"]["EndpointStatus"]
        if status != "READY":
            return _error(
                "PredictorNotMountedException",
                f"Model {model_id!r} has no realtime endpoint ready (it is {status}).",
            )
        prediction = embedded_predict(alias, model, record)
    except ResourceNotFoundException as err:
        return _error(err.code, str(err), status=404)
    except EngineError as err:
        return _error(err.code, str(err))
    return JsonResponse({"Prediction": prediction})
