"""Fixtures for the engine tests; nothing here needs Django."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence

import pytest

from mlpipeline.engine import DirectoryStore, Engine

ENDPOINT = "http://testserver/mlpipeline/realtime/{model_id}/"


def schema_json(
    attributes: Sequence[tuple[str, str]],
    target: str | None = None,
    header: bool = False,
    **extra: object,
) -> str:
    """Return a DataSchema in the current spelling."""
    doc = {
        "version": "1.0",
        "targetAttributeName": target,
        "dataFormat": "CSV",
        "dataFileContainsHeader": header,
        "attributes": [
            {"attributeName": name, "attributeType": kind} for name, kind in attributes
        ],
        **extra,
    }
    return json.dumps(doc)


def csv_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] = ()) -> bytes:
    """Return rows as simple CSV lines (no quoting needed by the callers)."""
    lines = [",".join(header)] if header else []
    lines += [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def store(tmp_path):
    return DirectoryStore(tmp_path / "store")


@pytest.fixture
def engine(store):
    return Engine(store, endpoint_url=ENDPOINT)


@pytest.fixture
def data_source(engine, store) -> Callable[..., dict]:
    """Return a function creating a data source from rows; returns Get."""

    def create(
        ds_id: str,
        rows: Sequence[Sequence[object]],
        attributes: Sequence[tuple[str, str]],
        target: str | None = None,
        rearrangement: dict | None = None,
        statistics: bool = True,
    ) -> dict:
        name = f"uploads/{ds_id}.csv"
        store.write(name, csv_bytes(rows))
        spec = {"DataLocationS3": name, "DataSchema": schema_json(attributes, target)}
        if rearrangement is not None:
            spec["DataRearrangement"] = json.dumps(rearrangement)
        engine.create_data_source_from_s3(
            DataSourceId=ds_id, DataSpec=spec, ComputeStatistics=statistics
        )
        return engine.get_data_source(DataSourceId=ds_id)

    return create


ATTRS = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "BINARY")]
TRAIN = {"splitting": {"percentBegin": 0, "percentEnd": 70, "strategy": "random"}}
TEST = {"splitting": {**TRAIN["splitting"], "complement": True}}


def binary_rows(n=300, seed=0):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        c = rng.choice("abcd")
        chance = {"a": 0.9, "b": 0.7, "c": 0.3, "d": 0.1}[c]
        rows.append([rng.randint(0, 50), c, "yes" if rng.random() < chance else "no"])
    return rows


def multiclass_rows(n=300, seed=0):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        c = rng.choice("abc")
        label = c.upper() if rng.random() < 0.85 else rng.choice("ABC")
        rows.append([rng.randint(0, 9), c, label])
    return rows


def regression_rows(n=300, seed=0):
    rng = random.Random(seed)
    return [
        [
            x := rng.randint(0, 40),
            c := rng.choice("ab"),
            3 * x + (10 if c == "a" else 0),
        ]
        for _ in range(n)
    ]


@pytest.fixture
def trained(engine, data_source):
    """A COMPLETED BINARY model with train and test data sources."""
    data_source("ds-train", binary_rows(), ATTRS, "y", TRAIN)
    data_source("ds-test", binary_rows(), ATTRS, "y", TEST)
    engine.create_ml_model(
        MLModelId="ml-1", MLModelType="BINARY", TrainingDataSourceId="ds-train"
    )
    return "ml-1"
