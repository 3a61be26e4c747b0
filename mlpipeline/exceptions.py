"""Exceptions raised by mlpipeline.

The tree::

    MlpipelineError
     +-- PipelineDeclarationError   a pipeline's declaration is wrong
     +-- DataError                  the rows cannot make a model
     +-- DatabaseUnavailable        the connection failed while extracting
     +-- StepFailed                 a backend entity ended FAILED
     +-- StepTimedOut               a backend entity took too long (also a
     |                              TimeoutError)
     +-- BackendError               the training service refused a request
     +-- RunNotFound                nothing to resume or load
     +-- RegistryError              a promotion or rollback cannot be made

Errors of the embedded engine (``mlpipeline.engine.EngineError``) reach
callers unchanged. The Amazon backend turns the boto3 errors whose meaning
is certain into :class:`BackendError` and lets the others through. A
backend entity that fails asynchronously becomes :class:`StepFailed`
carrying the service's message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "DataError",
    "DatabaseUnavailable",
    "MlpipelineError",
    "PipelineDeclarationError",
    "RegistryError",
    "RunNotFound",
    "StepFailed",
    "StepTimedOut",
]


class MlpipelineError(Exception):
    """Base class of the errors mlpipeline raises on purpose."""


class PipelineDeclarationError(MlpipelineError):
    """A pipeline names a field, type or option that cannot work.

    ``code`` is the id of the system check that reports it (``E001`` is
    reported as ``mlpipeline.E001``, see :mod:`mlpipeline.checks`), ``hint``
    says what to change and ``obj`` is what is at fault: a model field, or
    ``None`` for the pipeline itself. The message is followed by the hint.
    """

    def __init__(
        self, message: str, *, code: str = "E010", hint: str = "", obj: Any = None
    ) -> None:
        self.message = message
        self.code = code
        self.hint = hint
        self.obj = obj
        super().__init__(f"{message} {hint}" if hint else message)


class DataError(MlpipelineError):
    """The extracted rows cannot train a model: empty, one class, bad value."""


class DatabaseUnavailable(MlpipelineError):
    """The database connection failed while a pipeline's rows were read."""


class StepFailed(MlpipelineError):
    """A backend entity finished with status FAILED."""

    def __init__(self, step: str, entity_id: str, message: str) -> None:
        self.step = step
        self.entity_id = entity_id
        self.message = message
        super().__init__(f"Step {step!r} failed: {entity_id} says: {message}")


class StepTimedOut(MlpipelineError, TimeoutError):
    """A backend entity was not done within the backend's POLL_TIMEOUT."""


class BackendError(MlpipelineError):
    """The training service refused a request; the message says what to change.

    ``operation`` is the refused call (``CreateMLModel``, ``PutObject``...)
    and ``code`` the service's error code, for callers that act on one kind
    (cleanup treats ``ResourceNotFoundException`` as already deleted).
    """

    def __init__(self, message: str, *, operation: str = "", code: str = "") -> None:
        self.operation = operation
        self.code = code
        super().__init__(message)


class RunNotFound(MlpipelineError):
    """No run is in the state an operation needs."""


class RegistryError(MlpipelineError):
    """A model cannot be promoted or rolled back as asked."""
