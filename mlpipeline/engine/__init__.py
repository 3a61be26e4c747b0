"""Embedded engine: Amazon Machine Learning's API and semantics, offline.

The engine reads CSV data from a :class:`Store`, trains linear models with
stochastic gradient descent and serves predictions, following the Amazon ML
behaviour described in the project's specification. It does not import
Django. Typical use::

    engine = Engine(DirectoryStore("/srv/ml"))
    engine.create_data_source_from_s3(DataSourceId="ds-1", DataSpec={...},
                                      ComputeStatistics=True)
    engine.get_data_source(DataSourceId="ds-1")["Status"]
"""

from __future__ import annotations

from mlpipeline.engine.errors import (
    EngineError,
    IdempotentParameterMismatchException,
    InvalidInputException,
    InvalidTagException,
    LimitExceededException,
    PredictorNotMountedException,
    ResourceNotFoundException,
    TagLimitExceededException,
)
from mlpipeline.engine.predictor import Predictor
from mlpipeline.engine.service import Engine
from mlpipeline.engine.store import DirectoryStore, Store

__all__ = [
    "DirectoryStore",
    "Engine",
    "EngineError",
    "IdempotentParameterMismatchException",
    "InvalidInputException",
    "InvalidTagException",
    "LimitExceededException",
    "Predictor",
    "PredictorNotMountedException",
    "ResourceNotFoundException",
    "Store",
    "TagLimitExceededException",
]
