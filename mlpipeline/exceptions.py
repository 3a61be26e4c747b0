"""Exceptions raised by mlpipeline.

The tree::

    MlpipelineError
     +-- PipelineDeclarationError   a pipeline's declaration is wrong
     +-- DataError                  the rows cannot make a model
     +-- StepFailed                 a backend entity ended FAILED
     +-- RunNotFound                nothing to resume or load

Errors of the embedded engine (``mlpipeline.engine.EngineError``) and of
boto3 reach callers unchanged; a backend entity that fails asynchronously
becomes :class:`StepFailed` carrying the service's message.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "MlpipelineError",
    "PipelineDeclarationError",
    "RunNotFound",
    "StepFailed",
]


class MlpipelineError(Exception):
    """Base class of the errors mlpipeline raises on purpose."""


class PipelineDeclarationError(MlpipelineError):
    """A pipeline names a field, type or option that cannot work."""


class DataError(MlpipelineError):
    """The extracted rows cannot train a model: empty, one class, bad value."""


class StepFailed(MlpipelineError):
    """A backend entity finished with status FAILED."""

    def __init__(self, step: str, entity_id: str, message: str) -> None:
        self.step = step
        self.entity_id = entity_id
        self.message = message
        super().__init__(f"Step {step!r} failed: {entity_id} says: {message}")


class RunNotFound(MlpipelineError):
    """No run is in the state an operation needs."""
