"""HTTP endpoints: the embedded engine's realtime endpoints, answering like
Amazon ML's, and the prediction API, which answers with each pipeline's
active model on either backend. Both answer only callers with a token of
MLPIPELINE_API_TOKENS or signed-in users holding ``mlpipeline.predict``
(:func:`_refusal`).
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from mlpipeline.conf import settings
from mlpipeline.engine import EngineError, ResourceNotFoundException
from mlpipeline.exceptions import (
    BackendError,
    InvalidRecord,
    ModelUnavailable,
    PipelineDeclarationError,
    RunNotFound,
)
from mlpipeline.pipeline import check_name
from mlpipeline.schema import format_value
from mlpipeline.serving import (
    embedded_predict,
    model_backend,
    predict,
    serving_backend,
)

__all__ = ["openapi", "predict_api", "realtime"]

#: Labels in the prediction API's answer unless the request asks otherwise.
DEFAULT_TOP = 3


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


def _body_limit() -> int:
    """Return how many bytes a request body may hold."""
    limit = int(settings.MAX_REQUEST_BYTES)
    django_limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit if django_limit is None else min(limit, django_limit)


def _too_large(limit: int) -> JsonResponse:
    return _error(
        "InvalidInputException",
        f"The request body is larger than {limit} bytes; send one record.",
        413,
    )


def _oversized(request: HttpRequest) -> JsonResponse | None:
    """Return a 413 when the declared body is over the limit, else None.

    Only the Content-Length header is read, so an oversized body is refused
    before any of it is read, and before a sign-in's CSRF check parses it.
    """
    limit = _body_limit()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    return _too_large(limit) if declared > limit else None


#: Digits of the longest integer a request body may hold; Python's own
#: limit (4300) would answer with advice meant for programmers.
MAX_DIGITS = 300


class _LongInteger(str):
    """An integer of the body with more than :data:`MAX_DIGITS` digits."""


class _TooLong(ValueError):
    """Raised while parsing: member ``name`` holds a too long integer."""

    def __init__(self, name: str | None, digits: str) -> None:
        where = "" if name is None else f" in {name!r}"
        super().__init__(
            f"The request body holds an integer of {len(digits.lstrip('-'))} "
            f"digits{where}; numbers may have at most {MAX_DIGITS} digits."
        )


def _integer(digits: str) -> int | _LongInteger:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        return _LongInteger(digits)
    return int(digits)


def _first_long(value: Any) -> _LongInteger | None:
    """Return a long integer in ``value`` or the lists it holds, if any."""
    if isinstance(value, _LongInteger):
        return value
    if isinstance(value, list):
        return next(filter(None, map(_first_long, value)), None)
    return None


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object; refuse a member holding a too long integer."""
    for name, value in pairs:
        found = _first_long(value)
        if found is not None:
            raise _TooLong(name, found)
    return dict(pairs)


def _raw_body(request: HttpRequest, limit: int) -> bytes | None:
    """Return the request's body; ``None`` if it cannot be read.

    A chunked body (Transfer-Encoding: chunked, no Content-Length) looks
    empty to Django. It is read from the WSGI input when the server has
    decoded it and marks the input as ending there (``wsgi.input_terminated``,
    as gunicorn does); other servers get ``None``, answered with a 411.
    """
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked or meta.get("CONTENT_LENGTH"):
        return request.body
    if not meta.get("wsgi.input_terminated"):
        return None
    return meta["wsgi.input"].read(limit + 1)


def _json_body(request: HttpRequest) -> tuple[Any, JsonResponse | None]:
    """Return the request's body parsed as JSON, or the error to answer."""
    limit = _body_limit()
    try:
        raw = _raw_body(request, limit)
    except RequestDataTooBig:
        return None, _too_large(limit)
    if raw is None:
        return None, _error(
            "LengthRequired",
            "This server cannot read a chunked request body; send the body with "
            "a Content-Length header.",
            411,
        )
    if len(raw) > limit:
        return None, _too_large(limit)
    try:
        body = json.loads(
            raw or b"null", parse_int=_integer, object_pairs_hook=_members
        )
        found = _first_long(body)
        if found is not None:
            raise _TooLong(None, found)
        return body, None
    except RecursionError:
        # A valid but deeply nested document exhausts the parser's stack.
        return None, _error(
            "InvalidInputException",
            "The request body nests arrays or objects too deeply to read; send "
            "a Record of plain values.",
        )
    except _TooLong as err:
        return None, _error("InvalidInputException", str(err))
    except ValueError as err:
        return None, _error(
            "InvalidInputException", f"The request body is not JSON: {err}."
        )


def _method_not_allowed(request: HttpRequest) -> JsonResponse:
    response = _error(
        "MethodNotAllowed",
        f"Send Predict requests with POST, not {request.method}.",
        405,
    )
    response["Allow"] = "POST"
    return response


def _unauthorized(message: str) -> JsonResponse:
    response = _error("UnauthorizedException", message, 401)
    response["WWW-Authenticate"] = 'Bearer realm="mlpipeline"'
    return response


@sensitive_variables("header", "token", "given")
def _refusal(request: HttpRequest) -> JsonResponse | None:
    """Return the answer to a caller who may not predict, or None.

    A caller may predict with ``Authorization: Bearer <token>`` naming a
    token of MLPIPELINE_API_TOKENS, or as a signed-in user holding
    ``mlpipeline.predict`` whose request passes Django's CSRF check. The
    answer is a JSON error: 401 without credentials or with a wrong token,
    403 for a failed CSRF check or a missing permission.
    """
    # META, not request.headers, which would build a mapping of every
    # header to read this one.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.partition(" ")
        given = token.strip().encode()
        # Compare with every token, so timing tells nothing about them.
        matches = [
            hmac.compare_digest(given, known.encode()) for known in settings.api_tokens
        ]
        if scheme.lower() == "bearer" and given and any(matches):
            return None
        return _unauthorized(
            "The Authorization header holds no token of MLPIPELINE_API_TOKENS; "
            "send 'Authorization: Bearer <token>'."
        )
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return _unauthorized(
            "Send a token ('Authorization: Bearer <token>') or sign in."
        )
    # A browser sends its session cookie along with any page's request, so
    # a session caller must pass Django's CSRF check; a token caller needs
    # none.
    rejected = CsrfViewMiddleware(lambda request: HttpResponse()).process_view(
        request, None, (), {}
    )
    if rejected is not None:
        return _error(
            "ForbiddenException",
            "CSRF check failed; send the csrftoken cookie's value in the "
            "X-CSRFToken header, or use a token.",
            403,
        )
    if not user.has_perm("mlpipeline.predict"):
        return _error(
            "ForbiddenException",
            f"User {user.get_username()!r} may not predict; grant the "
            "permission mlpipeline.predict.",
            403,
        )
    return None


def _top(body: dict[str, Any]) -> int:
    """Return the request's Top, 1 to 100; raise ValueError."""
    top = body.get("Top", DEFAULT_TOP)
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
        raise ValueError(
            f"Top is {json.dumps(top)}; send a whole number from 1 to 100."
        )
    return top


def _authorized_body(request: HttpRequest) -> tuple[Any, JsonResponse | None]:
    """Return a POST's JSON body, or the answer refusing the request.

    A request is refused unless it is a POST of at most
    MLPIPELINE_MAX_REQUEST_BYTES from a caller who may predict
    (:func:`_refusal`), whose body is JSON.
    """
    if request.method != "POST":
        return None, _method_not_allowed(request)
    refused = _oversized(request) or _refusal(request)
    if refused is not None:
        return None, refused
    return _json_body(request)


@csrf_exempt
def predict_api(request: HttpRequest, pipeline: str) -> JsonResponse:
    """Answer with ``pipeline``'s active model, in Amazon ML's Predict shape.

    The body is ``{"Record": {...}, "Top": 3}``; the answer is
    ``{"Prediction": ...}`` whose ``topLabels`` lists the ``Top`` most
    probable labels, or an error ``{"__type": ..., "message": ...}``. Only
    callers with a token of MLPIPELINE_API_TOKENS, or signed-in users
    holding ``mlpipeline.predict``, are answered. The Record holds the
    pipeline's source fields, expanded as the transform expands them (see
    :func:`~mlpipeline.serving.predict`). Missing and unknown attributes,
    values that do not parse for their type and categories never seen in
    training count as missing, as on Amazon ML; a value that is a JSON
    object or list, or that an expander rejects, is a 400 naming its
    attribute. An active model that can no longer answer is a 503.
    """
    body, refused = _authorized_body(request)
    if refused is not None:
        return refused
    try:
        record = _record(body)
        top = _top(body)
    except ValueError as err:
        return _error("InvalidInputException", str(err))
    try:
        check_name(pipeline)
    except PipelineDeclarationError:
        return _error(
            "ResourceNotFoundException",
            f"No pipeline is named {pipeline!r}; pipeline names are lower-case "
            "letters, digits and underscores.",
            404,
        )
    try:
        prediction = predict(pipeline, record, top=top)
    except RunNotFound as err:
        return _error("ResourceNotFoundException", str(err), 404)
    except InvalidRecord as err:
        return _error("InvalidInputException", str(err))
    except ModelUnavailable as err:
        # The server's registry is wrong, not the request: a 503, so that
        # clients retry or alert rather than change their input.
        return _error("ServiceUnavailableException", str(err), 503)
    except EngineError as err:
        return _error(err.code, str(err))
    except BackendError as err:
        return _error(err.code or "BackendError", str(err), 502)
    return JsonResponse({"Prediction": prediction})


def openapi(request: HttpRequest) -> JsonResponse:
    """Return the OpenAPI description of the prediction API.

    Its server is where the project mounted mlpipeline's URLs, and its
    session cookie the project's SESSION_COOKIE_NAME, so the description
    holds for this project whatever its URL configuration.
    """
    document = json.loads((Path(__file__).parent / "openapi.json").read_text())
    mount = reverse("mlpipeline:openapi").removesuffix("/openapi.json")
    document["servers"] = [{"url": mount}]
    session = document["components"]["securitySchemes"]["session"]
    session["name"] = django_settings.SESSION_COOKIE_NAME
    return JsonResponse(document)


@csrf_exempt
def realtime(request: HttpRequest, model_id: str) -> JsonResponse:
    """Answer a Predict request for embedded model ``model_id``.

    The body is Amazon ML's Predict request (``{"Record": {...}}``; an
    ``MLModelId`` must match the URL). The answer is ``{"Prediction": ...}``
    or an error ``{"__type": ..., "message": ...}``, always JSON. Callers
    are checked as the prediction API checks them (:func:`_refusal`), as
    Amazon ML's endpoints answer only signed requests.
    """
    body, refused = _authorized_body(request)
    if refused is not None:
        return refused
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
    alias = model_backend(model_id)
    engine = serving_backend(alias).client
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
