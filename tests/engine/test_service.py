import datetime as dt
import io
import json
import os
import re
import threading

import numba
import numpy as np
import pytest

from mlpipeline.engine import (
    DirectoryStore,
    Engine,
    EngineError,
    IdempotentParameterMismatchException,
    InvalidInputException,
    LimitExceededException,
    PredictorNotMountedException,
    ResourceNotFoundException,
)
from mlpipeline.engine.recipe import suggest_recipe
from mlpipeline.engine.schema import parse_schema

from .conftest import (
    ATTRS,
    ENDPOINT,
    TEST,
    TRAIN,
    binary_rows,
    csv_bytes,
    multiclass_rows,
    regression_rows,
    schema_json,
)


class RecordingStore(DirectoryStore):
    """Remember the status of every entity document written."""

    def __init__(self, root):
        super().__init__(root)
        self.statuses = []

    def write(self, name, data):
        if name.endswith(".json") and not name.endswith(".features.json"):
            api = json.loads(data)["api"]
            self.statuses.append((name, api["Status"], api.get("EndpointInfo")))
        super().write(name, data)


# Data sources


def test_data_source_lifecycle_fields(engine, store, data_source):
    found = data_source("ds-1", binary_rows(50), ATTRS, "y", TRAIN)
    assert found["Status"] == "COMPLETED"
    assert found["DataSourceId"] == "ds-1"
    assert found["DataLocationS3"] == "uploads/ds-1.csv"
    assert found["DataRearrangement"] == json.dumps(TRAIN)
    assert found["DataSizeInBytes"] == store.size("uploads/ds-1.csv")
    assert found["NumberOfFiles"] == 1
    assert found["ComputeStatistics"] is True
    assert isinstance(found["ComputeTime"], int)
    for key in ("CreatedAt", "StartedAt", "FinishedAt", "LastUpdatedAt"):
        assert isinstance(found[key], dt.datetime) and found[key].tzinfo is not None
    assert found["CreatedAt"] <= found["StartedAt"] <= found["FinishedAt"]
    assert "Message" not in found and "DataSourceSchema" not in found
    records = found["Statistics"]["records"]
    assert records["total"] == 50 and records["valid"] == records["selected"] < 50


def test_statuses_go_pending_inprogress_completed(tmp_path):
    store = RecordingStore(tmp_path)
    engine = Engine(store)
    store.write("d.csv", csv_bytes(binary_rows(20)))
    engine.create_data_source_from_s3(
        DataSourceId="ds-1",
        DataSpec={"DataLocationS3": "d.csv", "DataSchema": schema_json(ATTRS, "y")},
    )
    assert [s for _, s, _ in store.statuses] == ["PENDING", "INPROGRESS", "COMPLETED"]


def test_verbose_returns_schema_in_current_spelling(engine, data_source):
    data_source("ds-1", binary_rows(20), ATTRS, "y")
    schema = engine.get_data_source(DataSourceId="ds-1", Verbose=True)[
        "DataSourceSchema"
    ]
    assert schema == parse_schema(schema_json(ATTRS, "y")).to_json()


def test_statistics_are_optional_but_needed_for_training(engine, data_source):
    found = data_source("ds-1", binary_rows(20), ATTRS, "y", statistics=False)
    assert found["Status"] == "COMPLETED" and "ComputeTime" not in found
    assert "attributes" not in found["Statistics"]
    assert found["Statistics"]["records"]["valid"] == 20
    with pytest.raises(InvalidInputException, match="has no statistics"):
        engine.create_ml_model(
            MLModelId="ml-1", MLModelType="BINARY", TrainingDataSourceId="ds-1"
        )


def test_data_source_statistics_content(data_source):
    stats = data_source("ds-1", binary_rows(100), ATTRS, "y")["Statistics"]
    assert stats["attributes"]["x"]["type"] == "NUMERIC"
    assert stats["attributes"]["c"]["distinct"] == 4
    assert sum(stats["target"]["distribution"].values()) == 100


SCHEMA = schema_json(ATTRS, "y")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"DataLocationS3": "s3://bucket/d.csv", "DataSchema": SCHEMA},
            "from its store",
        ),
        ({"DataLocationS3": "uploads/", "DataSchema": SCHEMA}, "Store name"),
        ({"DataLocationS3": "../x.csv", "DataSchema": SCHEMA}, "Store name"),
        ({"DataSchema": SCHEMA}, "needs DataLocationS3"),
        ({"DataLocationS3": "d.csv", "DataSchema": SCHEMA, "X": 1}, "unknown key 'X'"),
        ({"DataLocationS3": "d.csv"}, "DataSchema or"),
        ({"DataLocationS3": "d.csv", "DataSchema": "{}"}, "'attributes'"),
        ({"DataLocationS3": "d.csv", "DataSchemaLocationS3": "no.schema"}, "not exist"),
        (
            {
                "DataLocationS3": "d.csv",
                "DataSchema": SCHEMA,
                "DataRearrangement": '{"splitting": {"percentEnd": 200}}',
            },
            "between 0 and 100",
        ),
    ],
)
def test_bad_data_source_requests_fail_at_once(engine, spec, message):
    with pytest.raises(InvalidInputException, match=message):
        engine.create_data_source_from_s3(DataSourceId="ds-1", DataSpec=spec)
    with pytest.raises(ResourceNotFoundException):
        engine.get_data_source(DataSourceId="ds-1")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("DataSourceId", "has space", "DataSourceId 'has space'"),
        ("DataSourceId", "x" * 65, "1-64 characters"),
        ("DataSourceName", "   ", "non-space"),
        ("DataSourceName", "n" * 1025, "1024"),
        ("ComputeStatistics", "yes", "true or false"),
    ],
)
def test_ids_and_names_are_checked(engine, field, value, message):
    arguments = {
        "DataSourceId": "ds-1",
        "DataSpec": {"DataLocationS3": "d.csv", "DataSchema": schema_json(ATTRS)},
        field: value,
    }
    with pytest.raises(InvalidInputException, match=message):
        engine.create_data_source_from_s3(**arguments)


def test_schema_from_store_and_legacy_spelling(engine, store):
    legacy = json.dumps(
        {
            "targetFieldName": "y",
            "variables": [{"fieldName": n, "fieldType": t} for n, t in ATTRS],
        }
    )
    store.write("d.csv", csv_bytes(binary_rows(10)))
    store.write("d.csv.schema", legacy.encode())
    engine.create_data_source_from_s3(
        DataSourceId="ds-1",
        DataSpec={"DataLocationS3": "d.csv", "DataSchemaLocationS3": "d.csv.schema"},
    )
    found = engine.get_data_source(DataSourceId="ds-1", Verbose=True)
    assert json.loads(found["DataSourceSchema"])["targetAttributeName"] == "y"


def test_missing_file_fails_the_job(engine):
    engine.create_data_source_from_s3(
        DataSourceId="ds-1",
        DataSpec={"DataLocationS3": "gone.csv", "DataSchema": schema_json(ATTRS)},
    )
    found = engine.get_data_source(DataSourceId="ds-1")
    assert found["Status"] == "FAILED"
    assert "'gone.csv' does not exist" in found["Message"]
    assert found["FinishedAt"] >= found["StartedAt"]
    assert "ComputeTime" not in found


def test_too_many_invalid_records_fail_the_job(engine, store):
    store.write("d.csv", b"1,a,yes\n" + b"bad\n" * 10001)
    engine.create_data_source_from_s3(
        DataSourceId="ds-1",
        DataSpec={"DataLocationS3": "d.csv", "DataSchema": schema_json(ATTRS, "y")},
    )
    found = engine.get_data_source(DataSourceId="ds-1")
    assert found["Status"] == "FAILED"
    assert "More than 10000 records were rejected" in found["Message"]
    assert "line 2: expected 3 fields, found 1" in found["Message"]


def test_complement_of_everything_selects_no_records(engine, data_source):
    found = data_source(
        "ds-1", binary_rows(10), ATTRS, "y", {"splitting": {"complement": True}}
    )
    assert found["Status"] == "FAILED"
    assert "No valid records were selected" in found["Message"]


# Idempotency, ids, deletion


def test_create_is_idempotent_for_identical_parameters(engine, store, data_source):
    data_source("ds-1", binary_rows(20), ATTRS, "y")
    spec = {"DataLocationS3": "uploads/ds-1.csv", "DataSchema": schema_json(ATTRS, "y")}
    before = engine.get_data_source(DataSourceId="ds-1")
    again = engine.create_data_source_from_s3(
        DataSourceId="ds-1", DataSpec=spec, ComputeStatistics=True
    )
    assert again == {"DataSourceId": "ds-1"}
    assert engine.get_data_source(DataSourceId="ds-1") == before
    with pytest.raises(IdempotentParameterMismatchException, match="'ds-1'"):
        engine.create_data_source_from_s3(DataSourceId="ds-1", DataSpec=spec)


def test_model_and_evaluation_creates_are_idempotent(engine, trained):
    arguments = {
        "MLModelId": trained,
        "MLModelType": "BINARY",
        "TrainingDataSourceId": "ds-train",
    }
    before = engine.get_ml_model(MLModelId=trained)
    assert engine.create_ml_model(**arguments) == {"MLModelId": trained}
    assert engine.get_ml_model(MLModelId=trained) == before
    with pytest.raises(IdempotentParameterMismatchException):
        engine.create_ml_model(**arguments, Parameters={"sgd.maxPasses": "5"})
    evaluation = {
        "EvaluationId": "ev-1",
        "MLModelId": trained,
        "EvaluationDataSourceId": "ds-test",
    }
    engine.create_evaluation(**evaluation)
    assert engine.create_evaluation(**evaluation) == {"EvaluationId": "ev-1"}
    with pytest.raises(IdempotentParameterMismatchException):
        engine.create_evaluation(**evaluation, EvaluationName="other")


def test_ids_are_unique_per_type_only(engine, data_source):
    data_source("same", binary_rows(50), ATTRS, "y")
    engine.create_ml_model(
        MLModelId="same", MLModelType="BINARY", TrainingDataSourceId="same"
    )
    assert engine.get_ml_model(MLModelId="same")["Status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("method", "arguments"),
    [
        ("get_data_source", {"DataSourceId": "nope"}),
        ("get_ml_model", {"MLModelId": "nope"}),
        ("get_evaluation", {"EvaluationId": "nope"}),
        ("update_data_source", {"DataSourceId": "nope", "DataSourceName": "n"}),
        ("update_ml_model", {"MLModelId": "nope", "MLModelName": "n"}),
        ("update_evaluation", {"EvaluationId": "nope", "EvaluationName": "n"}),
        ("delete_data_source", {"DataSourceId": "nope"}),
        ("delete_ml_model", {"MLModelId": "nope"}),
        ("delete_evaluation", {"EvaluationId": "nope"}),
        ("create_realtime_endpoint", {"MLModelId": "nope"}),
        ("delete_realtime_endpoint", {"MLModelId": "nope"}),
        ("predict", {"MLModelId": "nope", "Record": {}, "PredictEndpoint": "x"}),
    ],
)
def test_unknown_ids_are_not_found(engine, method, arguments):
    with pytest.raises(ResourceNotFoundException, match="'nope'") as info:
        getattr(engine, method)(**arguments)
    assert info.value.code == "ResourceNotFoundException"
    assert isinstance(info.value, EngineError)


def test_delete_keeps_the_entity_readable_and_unusable(engine, data_source):
    data_source("ds-1", binary_rows(50), ATTRS, "y")
    assert engine.delete_data_source(DataSourceId="ds-1") == {"DataSourceId": "ds-1"}
    assert engine.get_data_source(DataSourceId="ds-1")["Status"] == "DELETED"
    with pytest.raises(InvalidInputException, match="'ds-1' is DELETED"):
        engine.create_ml_model(
            MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds-1"
        )
    with pytest.raises(InvalidInputException, match="DELETED"):
        engine.update_data_source(DataSourceId="ds-1", DataSourceName="x")


def test_rename(engine, trained):
    engine.update_data_source(DataSourceId="ds-train", DataSourceName="Train")
    engine.update_ml_model(MLModelId=trained, MLModelName="Model")
    assert engine.get_data_source(DataSourceId="ds-train")["Name"] == "Train"
    assert engine.get_ml_model(MLModelId=trained)["Name"] == "Model"


def test_dependencies_must_exist_and_be_usable(engine, data_source):
    with pytest.raises(
        InvalidInputException, match="does not name an existing DataSource"
    ):
        engine.create_ml_model(
            MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="zz"
        )
    data_source(
        "ds-bad", binary_rows(5), ATTRS, "y", {"splitting": {"complement": True}}
    )
    with pytest.raises(InvalidInputException, match="is FAILED"):
        engine.create_ml_model(
            MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds-bad"
        )
    with pytest.raises(InvalidInputException, match="MLModel"):
        engine.create_evaluation(
            EvaluationId="e", MLModelId="zz", EvaluationDataSourceId="ds-bad"
        )


# Training


def test_trained_model_description(engine, trained):
    model = engine.get_ml_model(MLModelId=trained)
    assert model["Status"] == "COMPLETED"
    assert model["MLModelType"] == "BINARY"
    assert model["TrainingDataSourceId"] == "ds-train"
    assert model["InputDataLocationS3"] == "uploads/ds-train.csv"
    assert model["TrainingParameters"] == {
        "algorithm": "sgd",
        "sgd.l1RegularizationAmount": "0.0",
        "sgd.l2RegularizationAmount": "1e-6",
        "sgd.maxMLModelSizeInBytes": "104857600",
        "sgd.maxPasses": "10",
        "sgd.shuffleType": "auto",
    }
    assert model["EndpointInfo"] == {
        "PeakRequestsPerSecond": 0,
        "EndpointStatus": "NONE",
    }
    assert "ScoreThreshold" not in model and "Recipe" not in model
    assert model["SizeInBytes"] > 0 and isinstance(model["ComputeTime"], int)


def test_verbose_model_shows_the_suggested_recipe(engine, trained):
    model = engine.get_ml_model(MLModelId=trained, Verbose=True)
    source = engine.get_data_source(DataSourceId="ds-train", Verbose=True)
    stats = source["Statistics"]
    expected = suggest_recipe(
        parse_schema(source["DataSourceSchema"]),
        stats["records"]["valid"],
        {"x": stats["attributes"]["x"]["distinct"]},
    )
    assert model["Recipe"] == expected
    assert model["Schema"] == source["DataSourceSchema"]
    engine.create_ml_model(
        MLModelId="ml-2", MLModelType="BINARY", TrainingDataSourceId="ds-train"
    )
    assert engine.get_ml_model(MLModelId="ml-2", Verbose=True)["Recipe"] == expected


def test_model_files_record_the_training(engine, store, trained):
    document = json.loads(store.open(f"engine/mlmodels/{trained}.json").read())
    training = document["training"]
    assert training["learning_rate"] in (0.01, 0.1, 1.0, 10.0, 100.0)
    assert 1 <= training["passes"] <= 10
    assert training["records_used"] + training["records_invalid"] > 0
    assert training["library_versions"]["numpy"] == np.__version__
    assert training["library_versions"]["numba"] == numba.__version__
    assert document["meta"]["classes"] == ["0", "1"]
    assert json.loads(document["schema"])["targetAttributeName"] == "y"
    assert document["recipe"].startswith("{")
    space = json.loads(
        store.open(f"engine/mlmodels/files/{trained}.features.json").read()
    )
    assert "c" in space["outputs"] and space["tokens"][
        space["outputs"].index("c")
    ] == list("abcd")
    with np.load(
        io.BytesIO(store.open(f"engine/mlmodels/files/{trained}.npz").read()),
        allow_pickle=False,
    ) as weights:
        assert weights["coef"].shape == (training["features"], 1)


def test_training_is_deterministic_for_the_same_id_and_data(tmp_path):
    weights = []
    for name in ("a", "b"):
        store = DirectoryStore(tmp_path / name)
        engine = Engine(store)
        store.write("d.csv", csv_bytes(binary_rows()))
        spec = {"DataLocationS3": "d.csv", "DataSchema": schema_json(ATTRS, "y")}
        engine.create_data_source_from_s3(
            DataSourceId="ds", DataSpec=spec, ComputeStatistics=True
        )
        engine.create_ml_model(
            MLModelId="ml", MLModelType="BINARY", TrainingDataSourceId="ds"
        )
        weights.append(store.open("engine/mlmodels/files/ml.npz").read())
    assert weights[0] == weights[1]


@pytest.mark.parametrize(
    ("model_type", "target", "message"),
    [
        ("BINARY", ("y", "NUMERIC"), "BINARY model needs a BINARY target"),
        ("MULTICLASS", ("y", "BINARY"), "needs a CATEGORICAL target"),
        ("REGRESSION", ("y", "CATEGORICAL"), "needs a NUMERIC target"),
    ],
)
def test_target_type_must_suit_the_model_type(
    engine, data_source, model_type, target, message
):
    data_source(
        "ds", [[1, "a", 1]], [("x", "NUMERIC"), ("c", "CATEGORICAL"), target], "y"
    )
    with pytest.raises(InvalidInputException, match=message):
        engine.create_ml_model(
            MLModelId="m", MLModelType=model_type, TrainingDataSourceId="ds"
        )


def test_model_request_checks(engine, data_source):
    data_source("ds", binary_rows(20), ATTRS, "y")
    data_source("no-target", binary_rows(20), ATTRS)
    base = {"MLModelId": "m", "MLModelType": "BINARY", "TrainingDataSourceId": "ds"}
    cases = [
        ({"MLModelType": "CLUSTERING"}, "MLModelType 'CLUSTERING'"),
        ({"Parameters": {"sgd.maxPasses": "0"}}, "sgd.maxPasses"),
        ({"Recipe": '{"outputs": ["nothing"]}'}, "unknown variable 'nothing'"),
        ({"RecipeUri": "missing.recipe"}, "does not exist"),
        ({"TrainingDataSourceId": "no-target"}, "no targetAttributeName"),
    ]
    for change, message in cases:
        with pytest.raises(InvalidInputException, match=message):
            engine.create_ml_model(**{**base, **change})
    with pytest.raises(ResourceNotFoundException):
        engine.get_ml_model(MLModelId="m")


def test_empty_recipe_means_the_suggested_recipe(engine, trained):
    engine.create_ml_model(
        MLModelId="ml-empty",
        MLModelType="BINARY",
        TrainingDataSourceId="ds-train",
        Recipe="",
    )
    suggested = engine.get_ml_model(MLModelId=trained, Verbose=True)["Recipe"]
    found = engine.get_ml_model(MLModelId="ml-empty", Verbose=True)
    assert found["Status"] == "COMPLETED" and found["Recipe"] == suggested


def test_user_recipe_from_store_is_used(engine, store, data_source):
    data_source("ds", binary_rows(100), ATTRS, "y")
    recipe = '{"outputs": ["c", "normalize(x)"]}'
    store.write("r.json", recipe.encode())
    engine.create_ml_model(
        MLModelId="m",
        MLModelType="BINARY",
        TrainingDataSourceId="ds",
        RecipeUri="r.json",
    )
    assert engine.get_ml_model(MLModelId="m", Verbose=True)["Recipe"] == recipe
    space = json.loads(store.open("engine/mlmodels/files/m.features.json").read())
    assert space["outputs"] == ["c", "normalize(x)"]


def test_rows_without_valid_target_are_skipped(engine, store, data_source):
    rows = [*binary_rows(100), [1, "a", ""], [2, "b", "maybe"]]
    data_source("ds", rows, ATTRS, "y")
    engine.create_ml_model(
        MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    training = json.loads(store.open("engine/mlmodels/m.json").read())["training"]
    assert (training["records_used"], training["records_invalid"]) == (100, 2)


def test_single_class_binary_target_fails(engine, data_source):
    data_source("ds", [[i, "a", "yes"] for i in range(20)], ATTRS, "y")
    engine.create_ml_model(
        MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    model = engine.get_ml_model(MLModelId="m")
    assert model["Status"] == "FAILED" and "only the value '1'" in model["Message"]


def test_more_than_100_classes_fails(engine, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "CATEGORICAL")]
    data_source("ds", [[i, "a", f"k{i}"] for i in range(101)], attrs, "y")
    engine.create_ml_model(
        MLModelId="m", MLModelType="MULTICLASS", TrainingDataSourceId="ds"
    )
    model = engine.get_ml_model(MLModelId="m")
    assert model["Status"] == "FAILED"
    assert "101 classes" in model["Message"] and "at most 100" in model["Message"]


def test_hundred_classes_train_and_one_class_fails(engine, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "CATEGORICAL")]
    data_source("ds-100", [[i, "a", f"k{i % 100}"] for i in range(200)], attrs, "y")
    engine.create_ml_model(
        MLModelId="m100", MLModelType="MULTICLASS", TrainingDataSourceId="ds-100"
    )
    assert engine.get_ml_model(MLModelId="m100")["Status"] == "COMPLETED"
    data_source("ds-1", [[i, "a", "only"] for i in range(20)], attrs, "y")
    engine.create_ml_model(
        MLModelId="m1", MLModelType="MULTICLASS", TrainingDataSourceId="ds-1"
    )
    model = engine.get_ml_model(MLModelId="m1")
    assert model["Status"] == "FAILED"
    assert model["Message"] == (
        "The training target has the single class 'only'; a MULTICLASS model "
        "needs at least 2."
    )


def test_model_size_limit_keeps_frequent_features(engine, store, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "BINARY")]
    rows = [[i, f"id{i}" if i % 2 else "common", i % 2] for i in range(30000)]
    data_source("ds", rows, attrs, "y")
    engine.create_ml_model(
        MLModelId="m",
        MLModelType="BINARY",
        TrainingDataSourceId="ds",
        Parameters={"sgd.maxMLModelSizeInBytes": "100000"},
        Recipe='{"outputs": ["c"]}',
    )
    document = json.loads(store.open("engine/mlmodels/m.json").read())
    assert document["api"]["Status"] == "COMPLETED"
    training = document["training"]
    assert training["features"] == 100000 // 8 - 1
    assert training["features_pruned"] == 15001 - training["features"]
    space = json.loads(store.open("engine/mlmodels/files/m.features.json").read())
    assert "common" in space["tokens"][0]


def test_job_waits_for_a_dependency_running_elsewhere(tmp_path, data_source, store):
    data_source("ds", binary_rows(50), ATTRS, "y")
    path = tmp_path / "store" / "engine" / "datasources" / "ds.json"
    finished = path.read_text()
    document = json.loads(finished)
    document["api"]["Status"] = "INPROGRESS"
    path.write_text(json.dumps(document))

    impatient = Engine(store, wait_timeout=0.05, poll_interval=0.01)
    impatient.create_ml_model(
        MLModelId="m1", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    failed = impatient.get_ml_model(MLModelId="m1")
    assert failed["Status"] == "FAILED" and "still INPROGRESS" in failed["Message"]

    def finish():
        # Atomically, as the store writes: a reader never sees half a file.
        partial = path.with_suffix(".partial")
        partial.write_text(finished)
        os.replace(partial, path)

    timer = threading.Timer(0.1, finish)
    timer.start()
    patient = Engine(store, wait_timeout=5, poll_interval=0.01)
    patient.create_ml_model(
        MLModelId="m2", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    timer.join()
    assert patient.get_ml_model(MLModelId="m2")["Status"] == "COMPLETED"


def test_a_fresh_engine_sees_everything(store, engine, trained):
    other = Engine(store, endpoint_url=ENDPOINT)
    assert other.get_ml_model(MLModelId=trained) == engine.get_ml_model(
        MLModelId=trained
    )
    assert other.get_data_source(DataSourceId="ds-train")["Status"] == "COMPLETED"


def test_a_description_read_again_shows_another_engines_change(store, engine, trained):
    """Descriptions are parsed once per stored content: a change made by
    another engine shows on the next read, and changing a description
    returned earlier changes none read later."""
    first = engine.get_ml_model(MLModelId=trained)
    first["EndpointInfo"]["EndpointStatus"] = "CHANGED BY THE CALLER"
    Engine(store, endpoint_url=ENDPOINT).update_ml_model(
        MLModelId=trained, ScoreThreshold=0.75
    )

    again = engine.get_ml_model(MLModelId=trained)

    assert "ScoreThreshold" not in first
    assert again["ScoreThreshold"] == 0.75
    assert again["EndpointInfo"]["EndpointStatus"] == "NONE"


# Evaluation


def test_binary_evaluation(engine, trained):
    engine.create_evaluation(
        EvaluationId="ev", MLModelId=trained, EvaluationDataSourceId="ds-test"
    )
    found = engine.get_evaluation(EvaluationId="ev")
    assert found["Status"] == "COMPLETED"
    assert found["InputDataLocationS3"] == "uploads/ds-test.csv"
    properties = found["PerformanceMetrics"]["Properties"]
    assert list(properties) == ["BinaryAUC"]
    report = found["Report"]
    assert properties["BinaryAUC"] == str(report["value"])
    assert 0.7 < report["value"] <= 1.0
    assert report["metric"] == "BinaryAUC" and report["baseline"] == 0.5
    matrix = report["confusion_matrix"]
    assert matrix["labels"] == ["0", "1"]
    assert sum(map(sum, matrix["matrix"])) == report["records"] > 50
    assert report["invalid_records"] == 0


def test_multiclass_and_regression_evaluations(engine, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "CATEGORICAL")]
    data_source("mc-train", multiclass_rows(), attrs, "y", TRAIN)
    data_source("mc-test", multiclass_rows(), attrs, "y", TEST)
    engine.create_ml_model(
        MLModelId="mc", MLModelType="MULTICLASS", TrainingDataSourceId="mc-train"
    )
    engine.create_evaluation(
        EvaluationId="ev-mc", MLModelId="mc", EvaluationDataSourceId="mc-test"
    )
    found = engine.get_evaluation(EvaluationId="ev-mc")
    assert list(found["PerformanceMetrics"]["Properties"]) == ["MulticlassAvgFScore"]
    report = found["Report"]
    assert report["value"] > 0.8 > report["baseline"] > 0
    assert report["confusion_matrix"]["labels"] == ["A", "B", "C"]

    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "NUMERIC")]
    data_source("r-train", regression_rows(), attrs, "y", TRAIN)
    data_source("r-test", regression_rows(), attrs, "y", TEST)
    engine.create_ml_model(
        MLModelId="r", MLModelType="REGRESSION", TrainingDataSourceId="r-train"
    )
    engine.create_evaluation(
        EvaluationId="ev-r", MLModelId="r", EvaluationDataSourceId="r-test"
    )
    found = engine.get_evaluation(EvaluationId="ev-r")
    assert list(found["PerformanceMetrics"]["Properties"]) == ["RegressionRMSE"]
    report = found["Report"]
    assert report["value"] < report["baseline"] / 4
    assert "confusion_matrix" not in report


def test_single_class_evaluation_fails(engine, trained, data_source):
    data_source("ds-one", [[i, "a", "yes"] for i in range(20)], ATTRS, "y")
    engine.create_evaluation(
        EvaluationId="ev", MLModelId=trained, EvaluationDataSourceId="ds-one"
    )
    found = engine.get_evaluation(EvaluationId="ev")
    assert found["Status"] == "FAILED" and "single class '1'" in found["Message"]
    assert "PerformanceMetrics" not in found and found["Report"] is None


def test_evaluation_needs_the_target(engine, trained, data_source):
    data_source("ds-x", [[1, "a"]], [("x", "NUMERIC"), ("c", "CATEGORICAL")])
    with pytest.raises(InvalidInputException, match="lacks the target attribute 'y'"):
        engine.create_evaluation(
            EvaluationId="ev", MLModelId=trained, EvaluationDataSourceId="ds-x"
        )


def test_evaluation_uses_training_types_by_name(engine, trained, data_source):
    rows = [[c, str(x), y] for x, c, y in binary_rows(200, seed=3)]
    attrs = [("c", "CATEGORICAL"), ("x", "CATEGORICAL"), ("y", "BINARY")]
    data_source("ds-other", rows, attrs, "y")
    engine.create_evaluation(
        EvaluationId="ev", MLModelId=trained, EvaluationDataSourceId="ds-other"
    )
    found = engine.get_evaluation(EvaluationId="ev")
    assert found["Status"] == "COMPLETED" and found["Report"]["value"] > 0.7


def test_evaluation_of_a_failed_model_is_rejected(engine, data_source):
    data_source("ds", [[i, "a", "yes"] for i in range(20)], ATTRS, "y")
    engine.create_ml_model(
        MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    with pytest.raises(InvalidInputException, match="MLModel 'm' is FAILED"):
        engine.create_evaluation(
            EvaluationId="ev", MLModelId="m", EvaluationDataSourceId="ds"
        )


# Score threshold and realtime prediction


def test_score_threshold_changes_labels_not_auc(engine, trained):
    engine.create_evaluation(
        EvaluationId="ev1", MLModelId=trained, EvaluationDataSourceId="ds-test"
    )
    url = engine.create_realtime_endpoint(MLModelId=trained)["RealtimeEndpointInfo"][
        "EndpointUrl"
    ]
    record = {"x": "10", "c": "b"}
    score = engine.predict(MLModelId=trained, Record=record, PredictEndpoint=url)
    value = next(iter(score["Prediction"]["predictedScores"].values()))

    engine.update_ml_model(MLModelId=trained, ScoreThreshold=value + 1e-9)
    model = engine.get_ml_model(MLModelId=trained)
    assert model["ScoreThreshold"] == value + 1e-9
    assert isinstance(model["ScoreThresholdLastUpdatedAt"], dt.datetime)
    after = engine.predict(MLModelId=trained, Record=record, PredictEndpoint=url)
    assert after["Prediction"]["predictedLabel"] == "0"
    assert after["Prediction"]["predictedScores"] == {"0": value}
    engine.update_ml_model(MLModelId=trained, ScoreThreshold=value)
    same = engine.predict(MLModelId=trained, Record=record, PredictEndpoint=url)
    assert same["Prediction"]["predictedLabel"] == "1"

    engine.create_evaluation(
        EvaluationId="ev2", MLModelId=trained, EvaluationDataSourceId="ds-test"
    )
    first = engine.get_evaluation(EvaluationId="ev1")["Report"]
    second = engine.get_evaluation(EvaluationId="ev2")["Report"]
    assert first["value"] == second["value"]
    assert first["confusion_matrix"] != second["confusion_matrix"]


def test_score_threshold_validation_and_non_binary(engine, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "NUMERIC")]
    data_source("r", regression_rows(50), attrs, "y")
    engine.create_ml_model(
        MLModelId="r", MLModelType="REGRESSION", TrainingDataSourceId="r"
    )
    engine.update_ml_model(MLModelId="r", ScoreThreshold=0.9)
    assert engine.get_ml_model(MLModelId="r")["ScoreThreshold"] == 0.9
    for bad in (float("nan"), "0.5", True):
        with pytest.raises(InvalidInputException, match="ScoreThreshold"):
            engine.update_ml_model(MLModelId="r", ScoreThreshold=bad)


def test_realtime_endpoint_lifecycle(tmp_path, data_source):
    store = RecordingStore(tmp_path / "rec")
    engine = Engine(store, endpoint_url=ENDPOINT)
    store.write("d.csv", csv_bytes(binary_rows()))
    spec = {"DataLocationS3": "d.csv", "DataSchema": schema_json(ATTRS, "y")}
    engine.create_data_source_from_s3(
        DataSourceId="ds", DataSpec=spec, ComputeStatistics=True
    )
    engine.create_ml_model(
        MLModelId="ml", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    url = "http://testserver/mlpipeline/realtime/ml/"

    with pytest.raises(
        PredictorNotMountedException, match="create_realtime_endpoint"
    ) as info:
        engine.predict(MLModelId="ml", Record={}, PredictEndpoint=url)
    assert info.value.code == "PredictorNotMountedException"

    created = engine.create_realtime_endpoint(MLModelId="ml")
    info = created["RealtimeEndpointInfo"]
    assert created["MLModelId"] == "ml"
    assert (info["EndpointStatus"], info["PeakRequestsPerSecond"]) == ("READY", 200)
    assert info["EndpointUrl"] == url and isinstance(info["CreatedAt"], dt.datetime)
    endpoint_states = [
        e["EndpointStatus"] for n, _, e in store.statuses if "mlmodels" in n
    ]
    assert endpoint_states[-2:] == ["UPDATING", "READY"]
    assert (
        engine.get_ml_model(MLModelId="ml")["EndpointInfo"]["EndpointStatus"] == "READY"
    )

    with pytest.raises(InvalidInputException, match="not the endpoint"):
        engine.predict(MLModelId="ml", Record={}, PredictEndpoint="http://elsewhere/")
    answer = engine.predict(
        MLModelId="ml",
        Record={"x": "3", "c": "a", "zz": "1"},
        PredictEndpoint=url.rstrip("/"),
    )
    prediction = answer["Prediction"]
    assert set(prediction) == {"predictedLabel", "predictedScores", "details"}
    assert prediction["details"] == {
        "PredictiveModelType": "BINARY",
        "Algorithm": "SGD",
    }
    assert list(prediction["predictedScores"]) == [prediction["predictedLabel"]]
    assert prediction == engine.load_model("ml").predict({"x": "3", "c": "a"})

    deleted = engine.delete_realtime_endpoint(MLModelId="ml")
    assert deleted["RealtimeEndpointInfo"] == {
        "PeakRequestsPerSecond": 0,
        "EndpointStatus": "NONE",
    }
    assert (
        engine.get_ml_model(MLModelId="ml")["EndpointInfo"]
        == deleted["RealtimeEndpointInfo"]
    )
    with pytest.raises(PredictorNotMountedException):
        engine.predict(MLModelId="ml", Record={}, PredictEndpoint=url)


def test_endpoint_needs_a_completed_model(engine, data_source):
    data_source("ds", [[i, "a", "yes"] for i in range(20)], ATTRS, "y")
    engine.create_ml_model(
        MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    with pytest.raises(InvalidInputException, match="only a COMPLETED model"):
        engine.create_realtime_endpoint(MLModelId="m")
    with pytest.raises(InvalidInputException, match="not COMPLETED"):
        engine.load_model("m")


def test_deleting_a_model_unmounts_it(engine, trained):
    url = engine.create_realtime_endpoint(MLModelId=trained)["RealtimeEndpointInfo"][
        "EndpointUrl"
    ]
    engine.delete_ml_model(MLModelId=trained)
    model = engine.get_ml_model(MLModelId=trained)
    assert (
        model["Status"] == "DELETED"
        and model["EndpointInfo"]["EndpointStatus"] == "NONE"
    )
    with pytest.raises(PredictorNotMountedException):
        engine.predict(MLModelId=trained, Record={}, PredictEndpoint=url)


def test_load_model_is_cached_and_predicts_many(engine, trained):
    predictor = engine.load_model(trained)
    assert engine.load_model(trained) is predictor
    records = [{"x": "1", "c": "a"}, {"c": "d"}, {}]
    many = predictor.predict_many(records)
    assert many == [predictor.predict(r) for r in records]
    assert many[0]["predictedLabel"] == "1" and many[1]["predictedLabel"] == "0"


def test_default_endpoint_matches_amazon_host(store, trained):
    plain = Engine(store)
    info = plain.create_realtime_endpoint(MLModelId=trained)["RealtimeEndpointInfo"]
    assert (
        info["EndpointUrl"]
        == "https://realtime.machinelearning.us-east-1.amazonaws.com"
    )
    # The VipURL pattern of Amazon ML's API model.
    assert re.fullmatch(
        r"https://[a-zA-Z0-9-.]*\.amazon(aws)?\.com[/]?", info["EndpointUrl"]
    )


def test_baselines_use_the_training_mean_and_majority_class(engine, data_source):
    attrs = [("x", "NUMERIC"), ("y", "NUMERIC")]
    data_source("r-train", [[1, 1], [2, 2], [3, 3]], attrs, "y")
    data_source("r-test", [[1, 1], [2, 2], [3, 5]], attrs, "y")
    engine.create_ml_model(
        MLModelId="r", MLModelType="REGRESSION", TrainingDataSourceId="r-train"
    )
    engine.create_evaluation(
        EvaluationId="ev-r", MLModelId="r", EvaluationDataSourceId="r-test"
    )
    report = engine.get_evaluation(EvaluationId="ev-r")["Report"]
    assert report["baseline"] == pytest.approx(np.sqrt((1 + 0 + 9) / 3))

    attrs = [("x", "NUMERIC"), ("y", "CATEGORICAL")]
    data_source("m-train", [[1, "a"], [2, "a"], [3, "b"]], attrs, "y")
    data_source("m-test", [[1, "a"], [2, "a"], [3, "a"], [4, "b"]], attrs, "y")
    engine.create_ml_model(
        MLModelId="m", MLModelType="MULTICLASS", TrainingDataSourceId="m-train"
    )
    engine.create_evaluation(
        EvaluationId="ev-m", MLModelId="m", EvaluationDataSourceId="m-test"
    )
    report = engine.get_evaluation(EvaluationId="ev-m")["Report"]
    assert round(report["baseline"], 6) == 0.428571


class FailingWhileWaitedStore(DirectoryStore):
    """Show a data source INPROGRESS on its first read, FAILED after."""

    def __init__(self, root, name):
        super().__init__(root)
        self.name, self.reads = name, 0

    def open(self, name):
        handle = super().open(name)
        if name != self.name:
            return handle
        self.reads += 1
        document = json.loads(handle.read())
        handle.close()
        status = "INPROGRESS" if self.reads == 1 else "FAILED"
        document["api"]["Status"] = status
        return io.BytesIO(json.dumps(document).encode())


def test_job_fails_when_the_dependency_it_waits_for_fails(tmp_path):
    store = FailingWhileWaitedStore(tmp_path, "engine/datasources/ds.json")
    engine = Engine(store, poll_interval=0)
    store.write("d.csv", csv_bytes(binary_rows(50)))
    spec = {"DataLocationS3": "d.csv", "DataSchema": schema_json(ATTRS, "y")}
    engine.create_data_source_from_s3(
        DataSourceId="ds", DataSpec=spec, ComputeStatistics=True
    )
    store.reads = 0
    engine.create_ml_model(
        MLModelId="m", MLModelType="BINARY", TrainingDataSourceId="ds"
    )
    model = engine.get_ml_model(MLModelId="m")
    assert model["Status"] == "FAILED"
    assert model["Message"] == "DataSource 'ds' ended FAILED."


def test_predict_rate_limit_is_per_model_and_second(store, trained):
    now = [100.0]
    engine = Engine(
        store, endpoint_url=ENDPOINT, max_predict_rate=200, clock=lambda: now[0]
    )
    url = engine.create_realtime_endpoint(MLModelId=trained)["RealtimeEndpointInfo"][
        "EndpointUrl"
    ]
    for _ in range(200):
        engine.predict(MLModelId=trained, Record={}, PredictEndpoint=url)
    with pytest.raises(LimitExceededException, match="more than 200 Predict") as info:
        engine.predict(MLModelId=trained, Record={}, PredictEndpoint=url)
    assert info.value.code == "LimitExceededException"
    now[0] = 100.999
    with pytest.raises(LimitExceededException):
        engine.predict(MLModelId=trained, Record={}, PredictEndpoint=url)
    now[0] = 101.0
    assert engine.predict(MLModelId=trained, Record={}, PredictEndpoint=url)
    unlimited = Engine(store, endpoint_url=ENDPOINT, clock=lambda: now[0])
    for _ in range(300):
        unlimited.predict(MLModelId=trained, Record={}, PredictEndpoint=url)
