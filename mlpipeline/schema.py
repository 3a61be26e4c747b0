"""The layout of a pipeline's files and its Amazon ML data schema.

:func:`layout_for` checks a pipeline's declaration against its Django model
and returns a :class:`Layout`: the columns the extract step writes (with a
formatter each), the attributes the transform step writes (with their
Amazon ML types), the target and the model type. :meth:`Layout.schema`
renders the data schema in Amazon ML's JSON format.

Types are inferred from the Django fields (see :data:`FIELD_TYPES`) and a
pipeline's ``attribute_types`` override them.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone

from mlpipeline.exceptions import PipelineDeclarationError
from mlpipeline.expanders import DatePartsExpander, Expander
from mlpipeline.pipeline import BINARY, MODEL_TYPES, MULTICLASS, REGRESSION, Pipeline

__all__ = ["ATTRIBUTE_TYPES", "FIELD_TYPES", "Layout", "format_value", "layout_for"]

ATTRIBUTE_TYPES = ("BINARY", "CATEGORICAL", "NUMERIC", "TEXT")

#: Amazon ML type of each Django field class, checked in order (subclasses
#: first). Fields with ``choices`` are CATEGORICAL whatever their class.
FIELD_TYPES: tuple[tuple[type[models.Field], str], ...] = (
    (models.BooleanField, "BINARY"),
    (models.AutoField, "CATEGORICAL"),
    (models.BigAutoField, "CATEGORICAL"),
    (models.SmallAutoField, "CATEGORICAL"),
    (models.IntegerField, "NUMERIC"),
    (models.FloatField, "NUMERIC"),
    (models.DecimalField, "NUMERIC"),
    (models.TextField, "TEXT"),
    (models.CharField, "CATEGORICAL"),
    (models.UUIDField, "CATEGORICAL"),
    (models.GenericIPAddressField, "CATEGORICAL"),
    (models.ForeignKey, "CATEGORICAL"),
)

#: Fields read through a DatePartsExpander unless the pipeline expands them.
_EXPANDED_FIELDS = (models.DateField, models.DateTimeField)
_DATE = "DATE"

_TARGET_MODEL_TYPES = {
    "BINARY": BINARY,
    "CATEGORICAL": MULTICLASS,
    "NUMERIC": REGRESSION,
}


def format_value(value: Any) -> str:
    """Return ``value`` as an Amazon ML CSV cell ("" is missing).

    Booleans become ``1``/``0``, aware datetimes are read in the current time
    zone, and line breaks are folded to a space. Predictions format record
    values with this too, so a value means the same in training and after.
    """
    if type(value) is str and "\n" not in value and "\r" not in value:
        return value  # the common case, decided first
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value).isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    text = str(value)
    # Amazon ML reads one record per line, so a value may not span lines.
    if "\n" in text or "\r" in text:
        text = " ".join(text.splitlines())
    return text


@dataclass
class Layout:
    """What a pipeline's files hold, checked against its Django model."""

    pipeline: str
    #: Extracted columns, in file order.
    columns: list[str]
    #: Attributes of the features file, in file order, with their types.
    attributes: list[tuple[str, str]]
    target: str
    model_type: str
    expanders: list[Expander]
    row_id: str | None = None
    excluded: list[str] = field(default_factory=list)
    formatters: list[Callable[[Any], str]] = field(default_factory=list)

    @property
    def attribute_names(self) -> list[str]:
        return [name for name, _ in self.attributes]

    @property
    def target_type(self) -> str:
        return dict(self.attributes)[self.target]

    def schema(self) -> dict[str, Any]:
        """Return the Amazon ML data schema of the features file."""
        return {
            "version": "1.0",
            "rowId": self.row_id,
            "rowWeight": None,
            "targetAttributeName": self.target,
            "dataFormat": "CSV",
            "dataFileContainsHeader": True,
            "attributes": [
                {"attributeName": name, "attributeType": kind}
                for name, kind in self.attributes
            ],
            "excludedAttributeNames": list(self.excluded),
        }

    def schema_json(self) -> str:
        return json.dumps(self.schema(), indent=2)


def _resolve_field(model: type[models.Model], path: str) -> models.Field:
    """Return the field that ``path`` (``a__b__c``) names on ``model``."""
    current = model
    parts = path.split("__")
    for depth, part in enumerate(parts):
        found = current._meta.get_field(part)
        if depth < len(parts) - 1:
            if not found.is_relation or found.related_model is None:
                raise FieldDoesNotExist(f"{part} is not a relation")
            current = found.related_model
    return found


def _field_type(field_: models.Field) -> str | None:
    if field_.choices:
        return "CATEGORICAL"
    for field_class, kind in FIELD_TYPES:
        if isinstance(field_, field_class):
            return kind
    return None


def layout_for(pipeline: Pipeline) -> Layout:
    """Check ``pipeline``'s declaration and return the layout of its files.

    Raise :class:`PipelineDeclarationError` naming the pipeline and the
    attribute for an unknown field, a field type without an Amazon ML
    equivalent, an override naming no attribute, an unknown type, a target
    or model type that cannot go together, or a bad split.
    """
    name = pipeline.get_name()
    queryset = pipeline.get_queryset()
    if isinstance(pipeline.fields, str):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has fields {pipeline.fields!r}, a string; give a "
            f"list such as [{pipeline.fields!r}]."
        )
    columns = list(pipeline.fields)
    if not columns:
        raise PipelineDeclarationError(f"Pipeline {name!r} declares no fields.")
    if len(set(columns)) != len(columns):
        raise PipelineDeclarationError(f"Pipeline {name!r} lists a field twice.")
    _check_split(name, pipeline.train_percent)

    # Type each extracted column, from the model unless overridden.
    overrides = dict(pipeline.attribute_types)
    for attribute, kind in overrides.items():
        if kind not in ATTRIBUTE_TYPES:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} gives attribute {attribute!r} the type "
                f"{kind!r}; use one of {', '.join(ATTRIBUTE_TYPES)}."
            )
    expanded = {}
    for expander in pipeline.expanders:
        if expander.source in expanded:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} has two expanders of {expander.source!r}; "
                "combine them into one Expander subclass."
            )
        expanded[expander.source] = expander
    column_types: dict[str, str | None] = {}
    for column in columns:
        kind = _column_type(pipeline, queryset, column, expanded)
        if kind == _DATE:
            expanded.setdefault(column, DatePartsExpander(column))
            kind = None
        column_types[column] = kind
    expanders = [expanded[column] for column in columns if column in expanded]
    for expander in pipeline.expanders:
        if expander.source not in column_types:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} expands {expander.source!r}, which is not one "
                "of its fields."
            )

    # The features file: each expanded column gives way to its outputs.
    attributes: list[tuple[str, str]] = []
    for column in columns:
        expander = expanded.get(column)
        if expander is not None:
            if expander.keep_source:
                attributes.append((column, column_types[column] or "CATEGORICAL"))
            attributes.extend(expander.attributes())
            continue
        kind = overrides.get(column, column_types[column])
        if kind is None:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} cannot infer the type of {column!r}; give it "
                "one in attribute_types."
            )
        attributes.append((column, kind))
    attributes = [(attr, overrides.get(attr, kind)) for attr, kind in attributes]
    known = {attr for attr, _ in attributes}
    if len(known) != len(attributes):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} writes an attribute twice; give its expanders a prefix."
        )
    for attribute in [*overrides, *pipeline.excluded, pipeline.row_id]:
        if attribute is not None and attribute not in known:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} names attribute {attribute!r}, which is not "
                f"among its attributes: {', '.join(sorted(known))}."
            )

    target, model_type = _check_target(pipeline, dict(attributes))
    formatters = [format_value] * len(columns)
    return Layout(
        pipeline=name,
        columns=columns,
        attributes=attributes,
        target=target,
        model_type=model_type,
        expanders=expanders,
        row_id=pipeline.row_id,
        excluded=list(pipeline.excluded),
        formatters=formatters,
    )


def _check_split(name: str, train_percent: Any) -> None:
    whole = isinstance(train_percent, int) and not isinstance(train_percent, bool)
    if not whole or not 1 <= train_percent <= 99:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has train_percent {train_percent!r}; use a whole "
            "number from 1 to 99."
        )


def _column_type(
    pipeline: Pipeline,
    queryset: models.QuerySet,
    column: str,
    expanded: dict[str, Expander],
) -> str | None:
    name = pipeline.get_name()
    model = queryset.model
    try:
        field_ = _resolve_field(model, column)
    except FieldDoesNotExist:
        annotation = queryset.query.annotations.get(column)
        if annotation is not None:
            # An annotation of get_queryset() reads like a field.
            field_ = annotation.output_field
        elif pipeline.uses_row_method:
            return None
        else:
            names = ", ".join(f.name for f in model._meta.get_fields() if f.concrete)
            raise PipelineDeclarationError(
                f"Pipeline {name!r} names field {column!r}, which "
                f"{model.__name__} does not have; its fields are: {names}."
            ) from None
    if field_.many_to_many or field_.one_to_many:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} names {column!r}, which holds many values per "
            "row; compute one value from it in a row() method."
        )
    if isinstance(field_, _EXPANDED_FIELDS):
        # A date has no Amazon ML type; its parts do.
        return _DATE
    kind = _field_type(field_)
    if (
        kind is None
        and column not in expanded
        and column not in pipeline.attribute_types
    ):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} reads {column!r}, a {type(field_).__name__}, which "
            "has no Amazon ML type; give it one in attribute_types, expand it, or "
            "compute a value in a row() method."
        )
    return kind


def _check_target(pipeline: Pipeline, types: dict[str, str]) -> tuple[str, str]:
    name = pipeline.get_name()
    target = pipeline.target
    if not target:
        raise PipelineDeclarationError(f"Pipeline {name!r} declares no target.")
    if target not in types:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has target {target!r}, which is not among its "
            f"attributes: {', '.join(sorted(types))}."
        )
    if target in pipeline.excluded:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} excludes its target {target!r}."
        )
    if target == pipeline.row_id:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} uses its target {target!r} as row_id; the row id "
            "identifies rows and is never learned from."
        )
    inferred = _TARGET_MODEL_TYPES.get(types[target])
    model_type = pipeline.model_type or inferred
    if model_type not in MODEL_TYPES:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has model_type {pipeline.model_type!r}; use one of "
            f"{', '.join(MODEL_TYPES)}."
        )
    if inferred != model_type:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} trains a {model_type} model, but its target "
            f"{target!r} is {types[target]}; a {model_type} model needs a "
            f"{_needed_target(model_type)} target."
        )
    return target, model_type


def _needed_target(model_type: str) -> str:
    return {value: key for key, value in _TARGET_MODEL_TYPES.items()}[model_type]
