"""Keep engine entities in a store as JSON documents.

Layout below the store root::

    engine/datasources/<id>.json
    engine/mlmodels/<id>.json            entity document
    engine/mlmodels/<id>.npz             weights (numpy savez, no pickle)
    engine/mlmodels/<id>.features.json   fitted feature space
    engine/evaluations/<id>.json

An entity document is ``{"api": {...}, "request": {...}, ...}``: ``api``
holds the members Amazon ML's Get operation returns, with timestamps as
epoch seconds; ``request`` holds the Create parameters, compared when a
Create is retried; other keys are the engine's own.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mlpipeline.engine.store import Store

__all__ = ["KINDS", "Repository", "api_view"]

KINDS = {
    "datasource": "engine/datasources",
    "mlmodel": "engine/mlmodels",
    "evaluation": "engine/evaluations",
}
_TIMESTAMPS = frozenset(
    {
        "CreatedAt",
        "LastUpdatedAt",
        "StartedAt",
        "FinishedAt",
        "ScoreThresholdLastUpdatedAt",
    }
)


class Repository:
    """Load and save entity documents and model files in a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def name(self, kind: str, entity_id: str, suffix: str = ".json") -> str:
        """Return the store name of an entity's file."""
        return f"{KINDS[kind]}/{entity_id}{suffix}"

    def load(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """Return an entity document, or ``None`` if there is none."""
        name = self.name(kind, entity_id)
        if not self.store.exists(name):
            return None
        with self.store.open(name) as handle:
            return json.loads(handle.read().decode("utf-8"))

    def save(self, kind: str, entity_id: str, document: dict[str, Any]) -> None:
        """Create or replace an entity document."""
        data = json.dumps(document, ensure_ascii=False, allow_nan=False)
        self.store.write(self.name(kind, entity_id), data.encode("utf-8"))

    def read_bytes(self, name: str) -> bytes:
        """Return the content of a store blob."""
        with self.store.open(name) as handle:
            return handle.read()


def _timestamp(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def api_view(api: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of an ``api`` section with timestamps as datetimes.

    boto3 turns Amazon ML's epoch timestamps into timezone-aware
    ``datetime`` objects; the engine does the same so callers can treat both
    backends alike.
    """
    out: dict[str, Any] = {}
    for key, value in api.items():
        if key in _TIMESTAMPS and isinstance(value, int | float):
            value = _timestamp(value)
        elif isinstance(value, dict):
            value = api_view(value)
        out[key] = value
    return out
