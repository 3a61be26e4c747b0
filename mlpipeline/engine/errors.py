"""Exceptions raised by the embedded engine.

Every exception carries ``code``, the error name Amazon ML uses for the same
condition, so callers can treat the engine and the boto3 client alike::

    EngineError                                  (InternalServerException)
    +-- InvalidInputException                    bad request parameters
    +-- ResourceNotFoundException                unknown id on Get/Update/...
    +-- IdempotentParameterMismatchException     Create retried, other params
    +-- PredictorNotMountedException             Predict without an endpoint
    +-- JobFailedError                           internal: ends a job FAILED

``JobFailedError`` never reaches callers of the engine: a job that raises it
ends with status ``FAILED`` and the exception text as its ``Message``.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "IdempotentParameterMismatchException",
    "InvalidInputException",
    "JobFailedError",
    "PredictorNotMountedException",
    "ResourceNotFoundException",
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


class JobFailedError(EngineError):
    """Stop a running job; the entity becomes FAILED with this message."""
