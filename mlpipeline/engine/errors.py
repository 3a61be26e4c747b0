"""Exceptions raised by the embedded engine.

Every exception carries ``code``, the error name Amazon ML uses for the same
condition, so callers can treat the engine and the boto3 client alike::

    EngineError                                  (InternalServerException)
    +-- InvalidInputException                    bad request parameters
    +-- ResourceNotFoundException                unknown id on Get/Update/...
    +-- IdempotentParameterMismatchException     Create retried, other params
    +-- PredictorNotMountedException             Predict without an endpoint
    +-- LimitExceededException                   Predict above the rate limit
    +-- InvalidTagException                      malformed tag key or value
    +-- TagLimitExceededException                more than 50 tags on an entity
    +-- JobFailedError                           internal: ends a job FAILED

``JobFailedError`` never reaches callers of the engine: a job that raises it
ends with status ``FAILED`` and the exception text as its ``Message``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "EngineError",
    "IdempotentParameterMismatchException",
    "InvalidInputException",
    "InvalidTagException",
    "JobFailedError",
    "LimitExceededException",
    "PredictorNotMountedException",
    "ResourceNotFoundException",
    "TagLimitExceededException",
    "load_json_object",
]


class EngineError(Exception):
    """Base class of every error the engine raises."""

    #: Amazon ML error name for this condition.
    code = "InternalServerException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputException(EngineError):
    """Reject a request whose parameters are malformed or not usable."""

    code = "InvalidInputException"


class ResourceNotFoundException(EngineError):
    """Report that no entity of the requested type has the given id."""

    code = "ResourceNotFoundException"


class IdempotentParameterMismatchException(EngineError):
    """Reject a Create retried with an existing id but other parameters."""

    code = "IdempotentParameterMismatchException"


class PredictorNotMountedException(EngineError):
    """Reject Predict on a model whose realtime endpoint is not READY."""

    code = "PredictorNotMountedException"


class LimitExceededException(EngineError):
    """Reject a Predict call above the endpoint's requests per second."""

    code = "LimitExceededException"


class InvalidTagException(EngineError):
    """Reject a tag whose key or value breaks Amazon ML's tag rules."""

    code = "InvalidTagException"


class TagLimitExceededException(EngineError):
    """Reject AddTags that would leave an entity with more than 50 tags."""

    code = "TagLimitExceededException"


class JobFailedError(EngineError):
    """Stop a running job; the entity becomes FAILED with this message."""


def load_json_object(
    text: Any, what: str, max_chars: int | None = None
) -> dict[str, Any]:
    """Parse ``text``, a request's JSON-string member, into a JSON object.

    ``what`` names the member in messages (``"Recipe"``, ``"DataSchema"``).
    Raise :class:`InvalidInputException` when ``text`` is not a string, is
    longer than ``max_chars``, is not JSON or is not an object.
    """
    if not isinstance(text, str):
        raise InvalidInputException(
            f"{what}: must be a JSON string, got {type(text).__name__}."
        )
    if max_chars is not None and len(text) > max_chars:
        raise InvalidInputException(
            f"{what}: {len(text)} characters; at most {max_chars} allowed."
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputException(f"{what}: not valid JSON ({err}).") from err
    if not isinstance(doc, dict):
        raise InvalidInputException(f"{what}: must be a JSON object.")
    return doc
