"""The layout of a pipeline's files and its Amazon ML data schema.

:func:`layout_for` checks a pipeline's declaration against its Django model
and returns a :class:`Layout`: the columns the extract step writes (with a
formatter each), the attributes the transform step writes (with their
Amazon ML types), the target and the model type. :meth:`Layout.schema`
renders the data schema in Amazon ML's JSON format.

Types are inferred from the Django fields (see :data:`FIELD_TYPES`) and a
pipeline's ``attribute_types`` override them. Dates, datetimes and times are
expanded into their parts. Fields that hold no single value a model can
learn from (JSON, bytes, files, many related rows) are refused, naming the
field and what to do instead. A primary key or unique field that would reach
the features file as it is becomes the row id (or is excluded): a value seen
once teaches nothing.

Every refusal is a :class:`PipelineDeclarationError` whose ``code`` is the
id of the system check reporting it (see :mod:`mlpipeline.checks`).
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
from mlpipeline.expanders import DatePartsExpander, Expander, TimePartsExpander
from mlpipeline.pipeline import BINARY, MODEL_TYPES, MULTICLASS, REGRESSION, Pipeline
from mlpipeline.split import SplitRule

__all__ = [
    "ATTRIBUTE_TYPES",
    "FIELD_TYPES",
    "Layout",
    "field_label",
    "format_value",
    "layout_for",
]

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
    (models.DurationField, "NUMERIC"),
    (models.TextField, "TEXT"),
    (models.CharField, "CATEGORICAL"),
    (models.UUIDField, "CATEGORICAL"),
    (models.GenericIPAddressField, "CATEGORICAL"),
    (models.ForeignKey, "CATEGORICAL"),
)

#: Fields read through an expander of their parts unless the pipeline
#: expands them itself (DateTimeField is a DateField).
_AUTO_EXPANDERS: tuple[tuple[type[models.Field], type[Expander]], ...] = (
    (models.DateField, DatePartsExpander),
    (models.TimeField, TimePartsExpander),
)

#: Fields with no one value to learn from, and what to do instead.
_UNSUPPORTED: tuple[tuple[type[models.Field], str, str], ...] = (
    (
        models.JSONField,
        "holds JSON documents",
        "Pick the values to learn from with an annotation of get_queryset(), "
        "such as annotate(plan=KT('{name}__plan')) "
        "(django.db.models.fields.json.KT), or compute them in a row() method.",
    ),
    (
        models.BinaryField,
        "holds raw bytes",
        "Compute a value from the bytes in a row() method.",
    ),
    (
        models.FileField,
        "holds a stored file",
        "Compute a value from the file (its size, its type) in a row() method.",
    ),
)

#: Spellings of a choice value that Amazon ML reads as BINARY.
_BINARY_WORDS = {
    "1": True, "y": True, "yes": True, "t": True, "true": True,
    "0": False, "n": False, "no": False, "f": False, "false": False,
}  # fmt: skip

_TARGET_MODEL_TYPES = {
    "BINARY": BINARY,
    "CATEGORICAL": MULTICLASS,
    "NUMERIC": REGRESSION,
}


def format_value(value: Any) -> str:
    """Return ``value`` as an Amazon ML CSV cell ("" is missing).

    Booleans become ``1``/``0``, aware datetimes are read in the current time
    zone, durations are written in seconds, and line breaks are folded to a
    space. Predictions format record
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
    if isinstance(value, datetime.timedelta):
        # A duration is NUMERIC: its length in seconds.
        return repr(value.total_seconds())
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
    #: Share of rows, in percent, that train; the rest evaluate.
    train_percent: int = 70
    #: Largest share of extracted rows the transform may reject (0-1).
    max_rejected: float = 0.0
    #: Which rows train and which evaluate (see :mod:`mlpipeline.split`).
    split: SplitRule | None = None

    @property
    def attribute_names(self) -> list[str]:
        return [name for name, _ in self.attributes]

    @property
    def features(self) -> list[str]:
        """Return the attributes but the target, the row id and excluded."""
        skipped = {self.target, self.row_id, *self.excluded}
        return [name for name in self.attribute_names if name not in skipped]

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


def field_label(field_: models.Field | models.ForeignObjectRel) -> str:
    """Return ``app_label.Model.field``, as Django's checks name a field."""
    model = getattr(field_, "model", None)
    if model is None:
        # An annotation's output field belongs to no model.
        return type(field_).__name__
    return f"{model._meta.label}.{field_.name}"


@dataclass
class _Resolved:
    """The field a column names, and what the path to it implies."""

    field: models.Field
    #: A hop of the path (or the field) holds many values per row.
    many: bool
    #: Every row has its own value: a primary key or unique field, reached
    #: without a hop shared by several rows.
    unique: bool


def _resolve(model: type[models.Model], path: str) -> _Resolved:
    """Return the field that ``path`` (``a__b__c``) names on ``model``."""
    current = model
    parts = path.split("__")
    many = False
    single = True
    for depth, part in enumerate(parts):
        found = current._meta.get_field(part)
        many = many or bool(found.many_to_many or found.one_to_many)
        if depth < len(parts) - 1:
            if not found.is_relation or found.related_model is None:
                raise FieldDoesNotExist(f"{part} is not a relation")
            single = single and found.one_to_one
            current = found.related_model
    unique = isinstance(found, models.Field) and (found.primary_key or found.unique)
    return _Resolved(found, many, single and unique)


def _field_type(field_: models.Field) -> str | None:
    if field_.choices:
        return _choices_type(field_)
    for field_class, kind in FIELD_TYPES:
        if isinstance(field_, field_class):
            return kind
    return None


def _choices_type(field_: models.Field) -> str:
    """Return BINARY for choices spelling one true and one false value."""
    values = {format_value(value).strip().lower() for value, _ in field_.flatchoices}
    meanings = {_BINARY_WORDS.get(value) for value in values}
    if len(values) == 2 and meanings == {True, False}:
        return "BINARY"
    return "CATEGORICAL"


def layout_for(pipeline: Pipeline) -> Layout:
    """Check ``pipeline``'s declaration and return the layout of its files.

    Raise :class:`PipelineDeclarationError` naming the pipeline and the
    attribute (or the model field, ``app_label.Model.field``) for an
    unknown field, a field type without an Amazon ML equivalent, an
    override naming no attribute, an unknown type, a target or model type
    that cannot go together, or a bad option.
    """
    name = pipeline.get_name()
    queryset = pipeline.get_queryset()
    columns = _check_fields(name, pipeline.fields)
    _check_split(name, pipeline.train_percent)
    _check_max_rejected(name, pipeline.max_rejected)
    overrides = _check_overrides(name, pipeline.attribute_types)
    expanded = _declared_expanders(name, pipeline.expanders)

    # Type each extracted column, from the model unless overridden.
    column_types: dict[str, str | None] = {}
    unique: list[str] = []
    for column in columns:
        kind, resolved = _column_type(pipeline, queryset, column, expanded)
        if isinstance(kind, type):
            expanded.setdefault(column, kind(column))
            kind = None
        column_types[column] = kind
        if resolved is not None and resolved.unique:
            unique.append(column)
    expanders = [expanded[column] for column in columns if column in expanded]
    for expander in pipeline.expanders:
        if expander.source not in column_types:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} expands {expander.source!r}, which is not one "
                "of its fields.",
                code="E001",
                hint="Add it to fields or remove the expander.",
            )

    attributes = _attributes(name, columns, column_types, expanded, overrides)
    known = {attr for attr, _ in attributes}
    for attribute in [*overrides, *pipeline.excluded, pipeline.row_id]:
        if attribute is not None and attribute not in known:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} names attribute {attribute!r}, which is not "
                f"among its attributes: {', '.join(sorted(known))}.",
                code="E003",
                hint="Name attributes of the features file in attribute_types, "
                "excluded and row_id.",
            )

    target, model_type = _check_target(pipeline, dict(attributes))
    row_id, excluded = _identifiers(pipeline, target, unique, expanded)
    return Layout(
        pipeline=name,
        columns=columns,
        attributes=attributes,
        target=target,
        model_type=model_type,
        expanders=expanders,
        row_id=row_id,
        excluded=excluded,
        formatters=[format_value] * len(columns),
        train_percent=pipeline.train_percent,
        max_rejected=float(pipeline.max_rejected),
        split=SplitRule(pipeline.get_seed(), pipeline.train_percent),
    )


def _check_fields(name: str, fields: Any) -> list[str]:
    if isinstance(fields, str):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has fields {fields!r}, a string; give a list such "
            f"as [{fields!r}].",
            code="E001",
        )
    columns = list(fields)
    if not columns:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} declares no fields.",
            code="E001",
            hint="List the attributes to extract in fields.",
        )
    if len(set(columns)) != len(columns):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} lists a field twice.", code="E001"
        )
    return columns


def _check_overrides(name: str, attribute_types: Any) -> dict[str, str]:
    overrides = dict(attribute_types)
    for attribute, kind in overrides.items():
        if kind not in ATTRIBUTE_TYPES:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} gives attribute {attribute!r} the type "
                f"{kind!r}; use one of {', '.join(ATTRIBUTE_TYPES)}.",
                code="E003",
            )
    return overrides


def _declared_expanders(name: str, declared: Any) -> dict[str, Expander]:
    expanded: dict[str, Expander] = {}
    for expander in declared:
        if expander.source in expanded:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} has two expanders of {expander.source!r}; "
                "combine them into one Expander subclass.",
                code="E003",
            )
        expanded[expander.source] = expander
    return expanded


def _attributes(
    name: str,
    columns: list[str],
    column_types: dict[str, str | None],
    expanded: dict[str, Expander],
    overrides: dict[str, str],
) -> list[tuple[str, str]]:
    """Return the features file's attributes: expanders replace columns."""
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
                f"Pipeline {name!r} cannot infer the type of {column!r}.",
                code="E003",
                hint="Give it one in attribute_types.",
            )
        attributes.append((column, kind))
    attributes = [(attr, overrides.get(attr, kind)) for attr, kind in attributes]
    if len({attr for attr, _ in attributes}) != len(attributes):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} writes an attribute twice; give its expanders a "
            "prefix.",
            code="E003",
        )
    return attributes


def _identifiers(
    pipeline: Pipeline,
    target: str,
    unique: list[str],
    expanded: dict[str, Expander],
) -> tuple[str | None, list[str]]:
    """Return the row id and the excluded attributes.

    A column unique per row that reaches the features file as it is (not
    replaced by an expander) is never a feature: the first becomes the row
    id unless the pipeline names one, the others are excluded.
    """
    row_id = pipeline.row_id
    excluded = list(pipeline.excluded)
    for column in unique:
        replaced = column in expanded and not expanded[column].keep_source
        if replaced or column in (target, row_id) or column in excluded:
            continue
        if row_id is None:
            row_id = column
        else:
            excluded.append(column)
    return row_id, excluded


def _check_split(name: str, train_percent: Any) -> None:
    whole = isinstance(train_percent, int) and not isinstance(train_percent, bool)
    if not whole or not 1 <= train_percent <= 99:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has train_percent {train_percent!r}; use a whole "
            "number from 1 to 99.",
            code="E007",
        )


def _check_max_rejected(name: str, max_rejected: Any) -> None:
    number = isinstance(max_rejected, (int, float)) and not isinstance(
        max_rejected, bool
    )
    if not number or not 0 <= max_rejected < 1:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has max_rejected {max_rejected!r}; use a fraction "
            "of the extracted rows from 0 (reject none) up to, not including, 1.",
            code="E007",
        )


def _column_type(
    pipeline: Pipeline,
    queryset: models.QuerySet,
    column: str,
    expanded: dict[str, Expander],
) -> tuple[str | type[Expander] | None, _Resolved | None]:
    """Return the type of ``column`` (or the expander of its parts).

    The type is ``None`` where the declaration must give it: a value of
    ``row()`` that no field describes, or a field kept for an override.
    """
    name = pipeline.get_name()
    model = queryset.model
    try:
        resolved = _resolve(model, column)
    except FieldDoesNotExist:
        annotation = queryset.query.annotations.get(column)
        if annotation is not None:
            # An annotation of get_queryset() reads like a field.
            resolved = _Resolved(annotation.output_field, many=False, unique=False)
        elif pipeline.uses_row_method:
            return None, None
        else:
            names = ", ".join(f.name for f in model._meta.get_fields() if f.concrete)
            raise PipelineDeclarationError(
                f"Pipeline {name!r} names field {column!r}, which "
                f"{model.__name__} does not have; its fields are: {names}.",
                code="E001",
                hint="Correct fields, annotate get_queryset() with the value, or "
                "compute it in a row() method.",
            ) from None
    field_ = resolved.field
    overridden = column in pipeline.attribute_types
    if resolved.many:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} reads {column!r} through {field_label(field_)}, "
            "which holds many values per row.",
            code="E006",
            hint="Compute one value from them in a row() method or an annotation "
            "of get_queryset() (a Count, say).",
            obj=field_ if isinstance(field_, models.Field) else None,
        )
    for field_class, holds, hint in _UNSUPPORTED:
        if isinstance(field_, field_class) and not (
            overridden and pipeline.uses_row_method
        ):
            raise PipelineDeclarationError(
                f"Pipeline {name!r} reads {field_label(field_)}, a "
                f"{type(field_).__name__}, which {holds}; it has no Amazon ML type.",
                code="E006",
                hint=hint.format(name=column),
                obj=field_,
            )
    for field_class, expander_class in _AUTO_EXPANDERS:
        if isinstance(field_, field_class):
            # A date or time has no Amazon ML type; its parts do.
            return expander_class, resolved
    kind = _field_type(field_)
    if kind is None and column not in expanded and not overridden:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} reads {field_label(field_)}, a "
            f"{type(field_).__name__}, which has no Amazon ML type.",
            code="E006",
            hint="Give it one in attribute_types, expand it, or compute a value "
            "in a row() method.",
            obj=field_,
        )
    return kind, resolved


def _check_target(pipeline: Pipeline, types: dict[str, str]) -> tuple[str, str]:
    name = pipeline.get_name()
    target = pipeline.target
    if not target:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} declares no target.",
            code="E002",
            hint="Set target to the attribute the model predicts.",
        )
    if target not in types:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has target {target!r}, which is not among its "
            f"attributes: {', '.join(sorted(types))}.",
            code="E002",
            hint="Add the target to fields, or name one of them.",
        )
    if target in pipeline.excluded:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} excludes its target {target!r}.", code="E002"
        )
    if target == pipeline.row_id:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} uses its target {target!r} as row_id; the row id "
            "identifies rows and is never learned from.",
            code="E002",
        )
    inferred = _TARGET_MODEL_TYPES.get(types[target])
    model_type = pipeline.model_type or inferred
    if model_type not in MODEL_TYPES:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has model_type {pipeline.model_type!r}; use one of "
            f"{', '.join(MODEL_TYPES)}.",
            code="E002",
        )
    if inferred != model_type:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} trains a {model_type} model, but its target "
            f"{target!r} is {types[target]}; a {model_type} model needs a "
            f"{_needed_target(model_type)} target.",
            code="E002",
        )
    return target, model_type


def _needed_target(model_type: str) -> str:
    return {value: key for key, value in _TARGET_MODEL_TYPES.items()}[model_type]
