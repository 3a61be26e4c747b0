"""mlpipeline: keep a Django project's machine-learning models learning.

Declare pipelines in a ``pipelines.py`` module of an installed app with
:func:`register` and :class:`Pipeline`; run them with ``manage.py learn``.
"""

from mlpipeline.expanders import (
    DatePartsExpander,
    Expander,
    LongIdExpander,
    TimePartsExpander,
)
from mlpipeline.pipeline import BINARY, MULTICLASS, REGRESSION, Pipeline, register

__all__ = [
    "BINARY",
    "MULTICLASS",
    "REGRESSION",
    "DatePartsExpander",
    "Expander",
    "LongIdExpander",
    "Pipeline",
    "TimePartsExpander",
    "register",
]
