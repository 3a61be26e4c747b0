"""Parse, validate and emit data schemas (spec §8).

Input may use the current spelling (§8.1) or the legacy one of the API
reference (§8.2: ``targetFieldName``, ``recordAnnotationFieldName``,
``recordWeightFieldName``, ``variables`` with ``fieldName``/``fieldType``,
``excludedVariableNames``); output always uses the current spelling as
compact JSON.

[ENGINE] rules for what AWS leaves unspecified: ``version`` defaults to and
must be ``"1.0"``; ``dataFormat`` defaults to and must be ``"CSV"``; unknown
keys are rejected; the ``WEIGHTED_*`` types are unsupported. The
``rowWeight`` column is kept out of the inputs, but weights are not applied
to training or metrics because AWS never documented their effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlpipeline.engine.errors import InvalidInputException, load_json_object
from mlpipeline.engine.values import ATTRIBUTE_TYPES

__all__ = ["MAX_ATTRIBUTES", "MAX_SCHEMA_CHARS", "Attribute", "Schema", "parse_schema"]

MAX_ATTRIBUTES = 1000
MAX_SCHEMA_CHARS = 131071

# Legacy key -> current key.
_ALIASES = {
    "targetFieldName": "targetAttributeName",
    "recordAnnotationFieldName": "rowId",
    "recordWeightFieldName": "rowWeight",
    "variables": "attributes",
    "excludedVariableNames": "excludedAttributeNames",
}
_KEYS = frozenset(
    {
        "version",
        "rowId",
        "rowWeight",
        "targetAttributeName",
        "dataFormat",
        "dataFileContainsHeader",
        "attributes",
        "excludedAttributeNames",
    }
)
_ITEM_ALIASES = {"fieldName": "attributeName", "fieldType": "attributeType"}


@dataclass(frozen=True)
class Attribute:
    """One column of a data file: its name and declared type."""

    name: str
    type: str


@dataclass(frozen=True)
class Schema:
    """A validated data schema.

    ``attributes`` lists every column in file order. ``target``, ``row_id``
    and ``row_weight`` are attribute names or ``None``.
    """

    attributes: tuple[Attribute, ...]
    target: str | None = None
    row_id: str | None = None
    row_weight: str | None = None
    excluded: tuple[str, ...] = ()
    has_header: bool = False

    @property
    def names(self) -> list[str]:
        """Return the attribute names in file order."""
        return [a.name for a in self.attributes]

    @property
    def types(self) -> dict[str, str]:
        """Return attribute name to declared type, in file order."""
        return {a.name: a.type for a in self.attributes}

    @property
    def inputs(self) -> list[Attribute]:
        """Return the attributes usable as model inputs, in file order.

        The target, the row id, the row weight and excluded attributes are
        not inputs.
        """
        skip = {self.target, self.row_id, self.row_weight, *self.excluded}
        return [a for a in self.attributes if a.name not in skip]

    def to_json(self) -> str:
        """Return the schema as compact JSON in the current spelling."""
        doc = {
            "version": "1.0",
            "rowId": self.row_id,
            "rowWeight": self.row_weight,
            "targetAttributeName": self.target,
            "dataFormat": "CSV",
            "dataFileContainsHeader": self.has_header,
            "attributes": [
                {"attributeName": a.name, "attributeType": a.type}
                for a in self.attributes
            ],
            "excludedAttributeNames": list(self.excluded),
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _fail(message: str) -> InvalidInputException:
    return InvalidInputException(f"DataSchema: {message}")


def _canonical_keys(doc: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = aliases.get(key, key)
        if name in out and out[name] != value:
            raise _fail(f"'{key}' conflicts with '{name}' given with another value.")
        out[name] = value
    return out


def _optional_name(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(f"'{key}' must be an attribute name, got {value!r}.")
    return value


def _parse_header_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _fail(f"'dataFileContainsHeader' must be true or false, got {value!r}.")


def _parse_attributes(items: Any) -> tuple[Attribute, ...]:
    if not isinstance(items, list) or not items:
        raise _fail("'attributes' must be a non-empty list.")
    if len(items) > MAX_ATTRIBUTES:
        raise _fail(
            f"{len(items)} attributes declared; at most {MAX_ATTRIBUTES} are allowed."
        )
    attributes = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise _fail(f"attribute entry {item!r} must be an object.")
        item = _canonical_keys(item, _ITEM_ALIASES)
        name, attr_type = item.get("attributeName"), item.get("attributeType")
        extra = sorted(set(item) - {"attributeName", "attributeType"})
        if extra:
            raise _fail(f"unknown key {extra[0]!r} in attribute {name!r}.")
        if not isinstance(name, str) or not name:
            raise _fail(f"attribute name {name!r} must be a non-empty string.")
        if name in seen:
            raise _fail(f"attribute name {name!r} is declared twice.")
        if attr_type not in ATTRIBUTE_TYPES:
            accepted = ", ".join(ATTRIBUTE_TYPES)
            raise _fail(
                f"attribute {name!r} has unsupported type {attr_type!r}; use one "
                f"of {accepted}."
            )
        seen.add(name)
        attributes.append(Attribute(name, attr_type))
    return tuple(attributes)


def parse_schema(text: str) -> Schema:
    """Parse and validate a DataSchema JSON string.

    Parameters
    ----------
    text : str
        The schema, in the current or the legacy spelling.

    Returns
    -------
    Schema
        The validated schema.

    Raises
    ------
    InvalidInputException
        If the text is not JSON or breaks a rule of spec §8.4.
    """
    doc = load_json_object(text, "DataSchema", MAX_SCHEMA_CHARS)
    doc = _canonical_keys(doc, _ALIASES)
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r}.")
    if doc.get("version", "1.0") != "1.0":
        raise _fail(f"'version' must be \"1.0\", got {doc['version']!r}.")
    if doc.get("dataFormat", "CSV") != "CSV":
        raise _fail(f"'dataFormat' must be \"CSV\", got {doc['dataFormat']!r}.")

    attributes = _parse_attributes(doc.get("attributes"))
    names = {a.name for a in attributes}
    target = _optional_name(doc, "targetAttributeName")
    row_id = _optional_name(doc, "rowId")
    row_weight = _optional_name(doc, "rowWeight")
    excluded = doc.get("excludedAttributeNames") or []
    if not isinstance(excluded, list) or not all(isinstance(n, str) for n in excluded):
        raise _fail("'excludedAttributeNames' must be a list of attribute names.")

    for key, name in (
        ("targetAttributeName", target),
        ("rowId", row_id),
        ("rowWeight", row_weight),
        *(("excludedAttributeNames", n) for n in excluded),
    ):
        if name is not None and name not in names:
            raise _fail(f"'{key}' names {name!r}, which is not a declared attribute.")
    if target is not None and target in excluded:
        raise _fail(f"target attribute {target!r} may not be excluded.")
    if target is not None and target in (row_id, row_weight):
        raise _fail(f"target attribute {target!r} may not be the rowId or rowWeight.")

    return Schema(
        attributes=attributes,
        target=target,
        row_id=row_id,
        row_weight=row_weight,
        excluded=tuple(dict.fromkeys(excluded)),
        has_header=_parse_header_flag(doc.get("dataFileContainsHeader", False)),
    )
