"""Tags on engine entities: AddTags, DeleteTags, DescribeTags (spec §17).

Rules from Amazon ML's API model and Developer Guide:

* A key has 1-128 characters, a value 0-256 (the API model's limit; the
  Developer Guide says 255), both made of letters, digits, whitespace and
  ``_ . : / = + - @``; a key may not start with ``aws:``. A tag that breaks
  these raises :class:`InvalidTagException`.
* At most 50 tags per entity (:class:`TagLimitExceededException`) and 100
  per call. Adding an existing key replaces its value; a tag without a value
  has the value ``None``. DeleteTags ignores keys the entity does not have.
* Tags are copied to the entities made from a tagged one: a model gets its
  training data source's, an evaluation its data source's and then its
  model's (the model's win on a shared key).

[ENGINE] choices where AWS is silent:

* The ``aws:`` prefix is refused in any case (``AWS:`` too).
* Tags are copied once, when the new entity is created; later changes to
  the source's tags do not follow. A batch prediction gets tags the way an
  evaluation does. When the copies would exceed 50 tags, the model's are
  kept first, then the data source's in key order, up to 50.
* The tags of a DELETED entity can be read but not changed
  (:class:`InvalidInputException`).
* DescribeTags lists tags sorted by key.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from mlpipeline.engine.entities import LABELS, EntityOperations, check_id
from mlpipeline.engine.errors import (
    InvalidInputException,
    InvalidTagException,
    TagLimitExceededException,
)

__all__ = ["MAX_TAGS", "RESOURCE_TYPES", "TagOperations", "check_tags"]

MAX_TAGS = 50
MAX_TAGS_PER_CALL = 100
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
RESERVED_PREFIX = "aws:"
#: ResourceType -> entity kind.
RESOURCE_TYPES = {label: kind for kind, label in LABELS.items()}
_PUNCTUATION = frozenset("_.:/=+-@")


def _check_text(text: Any, what: str, longest: int, shortest: int) -> str:
    """Return ``text`` if it is a valid tag key or value; else raise."""
    if not isinstance(text, str):
        raise InvalidTagException(f"Tag {what} {text!r} must be a string.")
    if not shortest <= len(text) <= longest:
        raise InvalidTagException(
            f"Tag {what} {text!r} has {len(text)} characters; it must have "
            f"{shortest} to {longest}."
        )
    for char in text:
        if unicodedata.category(char)[0] not in "LNZ" and char not in _PUNCTUATION:
            raise InvalidTagException(
                f"Tag {what} {text!r} holds {char!r}; use letters, digits, "
                "whitespace and _ . : / = + - @ only."
            )
    return text


def _check_key(key: Any) -> str:
    key = _check_text(key, "key", MAX_KEY_CHARS, 1)
    if key.lower().startswith(RESERVED_PREFIX):
        raise InvalidTagException(
            f"Tag key {key!r} starts with {RESERVED_PREFIX!r}, which is reserved."
        )
    return key


def _check_list(items: Any, field: str) -> list[Any]:
    if not isinstance(items, list | tuple):
        raise InvalidInputException(
            f"{field} must be a list, got {type(items).__name__}."
        )
    if len(items) > MAX_TAGS_PER_CALL:
        raise InvalidInputException(
            f"{field} holds {len(items)} items; at most {MAX_TAGS_PER_CALL} per call."
        )
    return list(items)


def check_tags(tags: Any) -> dict[str, str | None]:
    """Return AddTags' ``Tags`` as a key -> value map, later keys winning.

    Raises
    ------
    InvalidInputException
        If ``tags`` is not a list of at most 100 maps.
    InvalidTagException
        If a key or value breaks the tag rules.
    """
    found: dict[str, str | None] = {}
    for tag in _check_list(tags, "Tags"):
        if not isinstance(tag, dict) or not set(tag) <= {"Key", "Value"}:
            raise InvalidInputException(
                f"Each tag must be a map with 'Key' and an optional 'Value', got "
                f"{tag!r}."
            )
        key = _check_key(tag.get("Key"))
        value = tag.get("Value")
        if value is not None:
            value = _check_text(value, "value", MAX_VALUE_CHARS, 0)
        found[key] = value
    return found


def _tag_list(tags: dict[str, str | None]) -> list[dict[str, str]]:
    listed = []
    for key in sorted(tags):
        value = tags[key]
        listed.append({"Key": key} if value is None else {"Key": key, "Value": value})
    return listed


class TagOperations(EntityOperations):
    """AddTags, DeleteTags and DescribeTags; tag copying for Creates."""

    def _tag_target(
        self, resource_id: Any, resource_type: Any
    ) -> tuple[str, str, dict[str, Any]]:
        """Return the kind, id and document of a tagged resource."""
        kind = RESOURCE_TYPES.get(resource_type)
        if kind is None:
            accepted = ", ".join(sorted(RESOURCE_TYPES))
            raise InvalidInputException(
                f"ResourceType {resource_type!r} must be one of {accepted}."
            )
        document = self._get(kind, resource_id, "ResourceId")
        return kind, resource_id, document

    def _load_tags(self, kind: str, entity_id: str) -> dict[str, str | None]:
        return self._repo.load_json(self._repo.tags_name(kind, entity_id)) or {}

    def _save_tags(
        self, kind: str, entity_id: str, tags: dict[str, str | None]
    ) -> None:
        self._repo.save_json(self._repo.tags_name(kind, entity_id), tags)

    def _editable(self, kind: str, entity_id: str, document: dict[str, Any]) -> None:
        if document["api"]["Status"] == "DELETED":
            raise InvalidInputException(
                f"{LABELS[kind]} {entity_id!r} is DELETED; its tags cannot be changed."
            )

    def add_tags(
        self, *, Tags: list[dict[str, str]], ResourceId: str, ResourceType: str
    ) -> dict[str, str]:
        """Add tags to an entity, replacing the values of existing keys.

        Raises
        ------
        InvalidTagException
            If a key or value breaks the tag rules.
        TagLimitExceededException
            If the entity would have more than 50 tags.
        ResourceNotFoundException
            If no entity of ``ResourceType`` has the id.
        InvalidInputException
            On an unknown ``ResourceType`` or a DELETED entity.
        """
        kind, entity_id, document = self._tag_target(ResourceId, ResourceType)
        added = check_tags(Tags)
        self._editable(kind, entity_id, document)
        tags = {**self._load_tags(kind, entity_id), **added}
        if len(tags) > MAX_TAGS:
            raise TagLimitExceededException(
                f"{LABELS[kind]} {entity_id!r} would have {len(tags)} tags; at most "
                f"{MAX_TAGS} are allowed."
            )
        self._save_tags(kind, entity_id, tags)
        return {"ResourceId": entity_id, "ResourceType": ResourceType}

    def delete_tags(
        self, *, TagKeys: list[str], ResourceId: str, ResourceType: str
    ) -> dict[str, str]:
        """Remove tags by key; keys the entity does not have are ignored.

        Raises
        ------
        InvalidTagException
            If a key breaks the tag rules.
        ResourceNotFoundException, InvalidInputException
            As for :meth:`add_tags`.
        """
        kind, entity_id, document = self._tag_target(ResourceId, ResourceType)
        keys = {_check_key(key) for key in _check_list(TagKeys, "TagKeys")}
        self._editable(kind, entity_id, document)
        tags = self._load_tags(kind, entity_id)
        kept = {key: value for key, value in tags.items() if key not in keys}
        if kept != tags:
            self._save_tags(kind, entity_id, kept)
        return {"ResourceId": entity_id, "ResourceType": ResourceType}

    def describe_tags(self, *, ResourceId: str, ResourceType: str) -> dict[str, Any]:
        """Return an entity's tags as ``[{"Key", "Value"}]``, sorted by key."""
        kind, entity_id, _ = self._tag_target(ResourceId, ResourceType)
        return {
            "ResourceId": entity_id,
            "ResourceType": ResourceType,
            "Tags": _tag_list(self._load_tags(kind, entity_id)),
        }

    def _copy_tags(
        self, kind: str, entity_id: str, sources: list[tuple[str, str]]
    ) -> None:
        """Give a new entity the tags of ``sources``; the last one wins.

        At most 50 are copied: the last source's first, then each earlier
        source's in key order.
        """
        copied: dict[str, str | None] = {}
        for source_kind, source_id in reversed(sources):
            tags = self._load_tags(source_kind, check_id(source_id, "ResourceId"))
            for key in sorted(tags):
                if key not in copied and len(copied) < MAX_TAGS:
                    copied[key] = tags[key]
        if copied:
            self._save_tags(kind, entity_id, copied)
