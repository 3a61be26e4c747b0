"""Keep engine entities in a store as JSON documents.

Layout below the store root::

    engine/datasources/<id>.json
    engine/mlmodels/<id>.json                  entity document
    engine/mlmodels/files/<id>.npz             weights (numpy savez, no pickle)
    engine/mlmodels/files/<id>.features.json   fitted feature space
    engine/evaluations/<id>.json
    engine/batchpredictions/<id>.json
    engine/tags/<kind>/<id>.json               tags of any entity

Each entity folder holds only entity documents, so listing it lists the
entities; a model's files sit in a subfolder, whose name no id can take
(ids have no ``/``). Models trained before the files moved keep theirs
beside the document (``engine/mlmodels/<id>.npz``), where
:meth:`Repository.read_file` still finds them.

An entity document is ``{"api": {...}, "request": {...}, ...}``: ``api``
holds the members Amazon ML's Get operation returns, with timestamps as
epoch seconds; ``request`` holds the Create parameters, compared when a
Create is retried; other keys are the engine's own.

JSON has no NaN or infinity. [ENGINE] A job's results (statistics,
evaluation report, training summary) record a number that overflowed as
``null`` (see :func:`without_non_finite`); numbers a model needs to predict
fail its job instead.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from mlpipeline.engine.store import Store

__all__ = ["KINDS", "Repository", "api_view", "without_non_finite"]

KINDS = {
    "datasource": "engine/datasources",
    "mlmodel": "engine/mlmodels",
    "evaluation": "engine/evaluations",
    "batchprediction": "engine/batchpredictions",
}
_DOCUMENT = ".json"
_VIEWS_KEPT = 64
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
        self._views: dict[str, tuple[bytes, dict[str, Any]]] = {}

    def name(self, kind: str, entity_id: str) -> str:
        """Return the store name of an entity's document."""
        return f"{KINDS[kind]}/{entity_id}{_DOCUMENT}"

    def file_name(self, kind: str, entity_id: str, suffix: str) -> str:
        """Return the store name of one of an entity's files (``.npz``...)."""
        return f"{KINDS[kind]}/files/{entity_id}{suffix}"

    def tags_name(self, kind: str, entity_id: str) -> str:
        """Return the store name of an entity's tags.

        Tags live apart from the document, so a job that saves its
        document when it ends cannot undo tags added meanwhile.
        """
        return f"engine/tags/{kind}/{entity_id}{_DOCUMENT}"

    def ids(self, kind: str) -> list[str]:
        """Return the ids of every entity of ``kind``, sorted."""
        names = self.store.listdir(KINDS[kind])
        return sorted(n[: -len(_DOCUMENT)] for n in names if n.endswith(_DOCUMENT))

    def load(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """Return an entity document, or ``None`` if there is none."""
        return self.load_json(self.name(kind, entity_id))

    def view(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """Return an entity document to read, not to change, or ``None``.

        The stored document is read on every call, so a change made by any
        process shows at once, but parsed only when its bytes differ from
        those of the last call: a realtime prediction reads its model's
        document every time and would spend most of its time parsing it.
        """
        name = self.name(kind, entity_id)
        try:
            with self.store.open(name) as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        seen = self._views.get(name)
        if seen is not None and seen[0] == data:
            return seen[1]
        document = json.loads(data.decode("utf-8"))
        if len(self._views) >= _VIEWS_KEPT:
            self._views.clear()
        self._views[name] = (data, document)
        return document

    def save(self, kind: str, entity_id: str, document: dict[str, Any]) -> None:
        """Create or replace an entity document."""
        self.save_json(self.name(kind, entity_id), document)

    def read_bytes(self, name: str) -> bytes:
        """Return the content of a store blob."""
        with self.store.open(name) as handle:
            return handle.read()

    def read_file(self, kind: str, entity_id: str, suffix: str) -> bytes:
        """Return one of an entity's files, where it is or where it was."""
        name = self.file_name(kind, entity_id, suffix)
        if not self.store.exists(name):
            legacy = f"{KINDS[kind]}/{entity_id}{suffix}"
            if self.store.exists(legacy):
                name = legacy
        return self.read_bytes(name)

    def load_json(self, name: str) -> Any:
        """Return a JSON blob's content, or ``None`` if there is none."""
        if not self.store.exists(name):
            return None
        return json.loads(self.read_bytes(name).decode("utf-8"))

    def save_json(self, name: str, value: Any) -> None:
        """Create or replace a JSON blob."""
        data = json.dumps(value, ensure_ascii=False, allow_nan=False)
        self.store.write(name, data.encode("utf-8"))


def without_non_finite(value: Any) -> Any:
    """Return ``value`` with every NaN or infinite float replaced by ``None``.

    Dicts and lists are copied; other values are returned as they are.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_non_finite(item) for item in value]
    return value


def _timestamp(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def api_view(api: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of an ``api`` section with timestamps as datetimes.

    Dicts and lists are copied too, so changing the copy leaves ``api`` as
    it was.

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
        elif isinstance(value, list):
            value = [api_view(v) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out
