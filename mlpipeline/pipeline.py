"""Declaring what to learn: the :class:`Pipeline` class and its registry.

A host project declares its pipelines in a ``pipelines.py`` module of any
installed app; mlpipeline imports those modules when Django starts, the way
the admin finds ``admin.py``::

    from mlpipeline import LongIdExpander, Pipeline, register

    @register
    class PlanPipeline(Pipeline):
        model = Policy
        fields = ["number", "plan"]
        target = "plan"
        expanders = [LongIdExpander("number", digits=20)]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from django.db import models

from mlpipeline.exceptions import PipelineDeclarationError
from mlpipeline.expanders import Expander

__all__ = [
    "BINARY",
    "MODEL_TYPES",
    "MULTICLASS",
    "REGRESSION",
    "Pipeline",
    "PipelineRegistry",
    "check_name",
    "register",
    "site",
]

BINARY = "BINARY"
MULTICLASS = "MULTICLASS"
REGRESSION = "REGRESSION"
MODEL_TYPES = (BINARY, MULTICLASS, REGRESSION)

_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class Pipeline:
    """One model to keep learning: where its rows come from and how to learn.

    Set ``model`` (or ``queryset``, or override :meth:`get_queryset`),
    ``fields`` and ``target``; everything else has a default.

    Override :meth:`row` to compute a row from a model instance instead of
    reading ``fields`` straight from the database; ``fields`` then names the
    values :meth:`row` returns, in order, and attributes that are not model
    fields need a type in ``attribute_types``.
    """

    #: Name used on the command line and in ids; lower case, digits, ``_``.
    name: ClassVar[str | None] = None
    model: ClassVar[type[models.Model] | None] = None
    queryset: ClassVar[models.QuerySet | None] = None
    #: Attributes to extract, in order. ``a__b`` follows a relation.
    fields: ClassVar[Sequence[str]] = ()
    #: The attribute to predict; it must be one of ``fields``.
    target: ClassVar[str] = ""
    #: BINARY, MULTICLASS or REGRESSION; inferred from the target's type.
    model_type: ClassVar[str | None] = None
    expanders: ClassVar[Sequence[Expander]] = ()
    #: Amazon ML types that replace the inferred ones, by attribute name.
    attribute_types: ClassVar[Mapping[str, str]] = {}
    #: Attributes written to the file but not used for training.
    excluded: ClassVar[Sequence[str]] = ()
    #: Attribute that identifies a row (never a feature).
    row_id: ClassVar[str | None] = None
    #: Share of rows, in percent, in the training data source.
    train_percent: ClassVar[int] = 70
    #: Seed of the split by primary key (:mod:`mlpipeline.split`); the
    #: pipeline's name when not set.
    seed: ClassVar[str | None] = None
    #: Amazon ML training parameters, e.g. ``{"sgd.maxPasses": 20}``.
    sgd: ClassVar[Mapping[str, Any]] = {}
    #: An Amazon ML recipe (JSON text); the suggested recipe when not set.
    recipe: ClassVar[str | None] = None
    #: Alias in MLPIPELINE_BACKENDS; MLPIPELINE_DEFAULT_BACKEND when not set.
    backend: ClassVar[str | None] = None
    #: Largest share of the extracted rows that the transform may reject (a
    #: value an expander cannot read) and leave out of the features file; a
    #: run rejecting more fails, naming the first rows. 0 rejects none.
    max_rejected: ClassVar[float] = 0.001
    #: Rows per database round trip; MLPIPELINE_CHUNK_SIZE when not set.
    chunk_size: ClassVar[int | None] = None

    def get_queryset(self) -> models.QuerySet:
        """Return the rows to learn from; override to filter or annotate."""
        if self.queryset is not None:
            return self.queryset.all()
        if self.model is not None:
            return self.model._default_manager.all()
        raise PipelineDeclarationError(
            f"Pipeline {self.get_name()!r} sets neither model nor queryset."
        )

    def row(self, instance: models.Model) -> Sequence[Any]:
        """Return the values of ``fields`` for one model instance."""
        raise NotImplementedError

    @property
    def uses_row_method(self) -> bool:
        return type(self).row is not Pipeline.row

    @classmethod
    def get_name(cls) -> str:
        """Return the pipeline's name, checked by :func:`check_name`."""
        if cls.name:
            return check_name(cls.name)
        words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", cls.__name__)
        name = "_".join(word.lower() for word in words)
        return check_name(name.removesuffix("_pipeline") or name)

    def get_seed(self) -> str:
        return self.get_name() if self.seed is None else str(self.seed)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_name()!r}>"


def check_name(name: Any) -> str:
    """Return ``name`` if it can name a pipeline; else raise an error.

    A pipeline's name becomes part of folder names, storage names and
    backend ids, so it may hold only lower-case letters, digits and
    underscores: nothing that could lead a path out of its folder. Raise
    :class:`PipelineDeclarationError` otherwise, saying what is wrong.
    """
    if isinstance(name, str) and _NAME_PATTERN.fullmatch(name):
        return name
    text = str(name)
    if any(mark in text for mark in ("/", "\\", "\0", "..")):
        raise PipelineDeclarationError(
            f"Pipeline name {name!r} holds a path separator, '..' or a NUL byte; "
            "pipeline names name folders and files, so use lower-case letters, "
            "digits and underscores only."
        )
    raise PipelineDeclarationError(
        f"Pipeline name {name!r} must start with a lower-case letter and "
        "hold at most 32 lower-case letters, digits and underscores."
    )


class PipelineRegistry:
    """The pipelines a project declares, by name."""

    def __init__(self) -> None:
        self._pipelines: dict[str, Pipeline] = {}

    def register(self, pipeline_class: type[Pipeline]) -> type[Pipeline]:
        """Register ``pipeline_class`` under its name and return it."""
        if not (
            isinstance(pipeline_class, type) and issubclass(pipeline_class, Pipeline)
        ):
            raise TypeError(
                f"register() takes a Pipeline subclass, not {pipeline_class!r}."
            )
        name = pipeline_class.get_name()
        registered = self._pipelines.get(name)
        if registered is not None and type(registered) is not pipeline_class:
            raise PipelineDeclarationError(
                f"Pipeline name {name!r} is taken by {type(registered).__qualname__}."
            )
        self._pipelines[name] = pipeline_class()
        return pipeline_class

    def unregister(self, name: str) -> None:
        self._pipelines.pop(name, None)

    def get(self, name: str) -> Pipeline:
        try:
            return self._pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self._pipelines)) or "none"
            raise PipelineDeclarationError(
                f"No pipeline is named {name!r}; declared pipelines: {known}."
            ) from None

    def __iter__(self) -> Iterator[Pipeline]:
        return iter(self._pipelines[name] for name in sorted(self._pipelines))

    def __len__(self) -> int:
        return len(self._pipelines)


site = PipelineRegistry()


def register(pipeline_class: type[Pipeline]) -> type[Pipeline]:
    """Register a pipeline with the default registry; usable as a decorator."""
    return site.register(pipeline_class)
