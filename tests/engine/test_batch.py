import csv
import datetime as dt
import gzip
import io
import json

import pytest

from mlpipeline.engine import (
    IdempotentParameterMismatchException,
    InvalidInputException,
    ResourceNotFoundException,
)
from mlpipeline.engine.batch import format_score

from .conftest import (
    ATTRS,
    TRAIN,
    multiclass_rows,
    regression_rows,
    schema_json,
)

RECORDS = [[3, "a"], [40, "d"], ["", "b"], [12, "zz"]]
INPUT_ATTRS = [("x", "NUMERIC"), ("c", "CATEGORICAL")]


def _batch_source(engine, store, ds_id, lines, attributes, **schema):
    """Create a data source for scoring from raw CSV lines."""
    name = f"uploads/{ds_id}.csv"
    store.write(name, "".join(f"{line}\n" for line in lines).encode())
    engine.create_data_source_from_s3(
        DataSourceId=ds_id,
        DataSpec={
            "DataLocationS3": name,
            "DataSchema": schema_json(attributes, **schema),
        },
    )
    return name


def _score(engine, store, model_id, lines, attributes=INPUT_ATTRS, **schema):
    """Score raw CSV lines with a model; return the result file's lines."""
    _batch_source(engine, store, "ds-in", lines, attributes, **schema)
    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId=model_id,
        BatchPredictionDataSourceId="ds-in",
        OutputUri="out",
    )
    return _result(store, "bp", "ds-in.csv")[1]


def _result(store, bp_id, input_name, folder="out"):
    """Return the manifest and the result lines of a batch prediction."""
    base = f"{folder}/batch-prediction"
    manifest = json.loads(store.open(f"{base}/{bp_id}.manifest").read())
    result = f"{base}/result/{bp_id}-{input_name}.gz"
    with store.open(result) as handle:
        text = gzip.decompress(handle.read()).decode()
    return manifest, text.split("\n")


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.0087642, 5, "8.7642E-3"),
        (0.5, 5, "5.0E-1"),
        (1.0, 5, "1.0E0"),
        (0.0, 5, "0.0E0"),
        (0.123456789, 5, "1.2346E-1"),
        (15.508452415466309, 7, "1.550845E1"),
        (-2500.0, 7, "-2.5E3"),
    ],
)
def test_scores_are_written_in_scientific_notation(value, digits, text):
    assert format_score(value, digits) == text


def test_binary_batch_output_matches_realtime_predictions(engine, store, trained):
    lines = [",".join(map(str, r)) for r in RECORDS]
    lines.insert(2, "only-one-field")
    _batch_source(engine, store, "ds-in", lines, INPUT_ATTRS)
    result = engine.create_batch_prediction(
        BatchPredictionId="bp-1",
        MLModelId=trained,
        BatchPredictionDataSourceId="ds-in",
        OutputUri="out/",
        BatchPredictionName="Scores",
    )
    assert result == {"BatchPredictionId": "bp-1"}

    found = engine.get_batch_prediction(BatchPredictionId="bp-1")
    assert found["Status"] == "COMPLETED"
    assert (found["TotalRecordCount"], found["InvalidRecordCount"]) == (5, 1)
    assert found["OutputUri"] == "out/" and found["Name"] == "Scores"
    assert found["InputDataLocationS3"] == "uploads/ds-in.csv"
    assert found["MLModelId"] == trained
    assert found["BatchPredictionDataSourceId"] == "ds-in"
    assert isinstance(found["FinishedAt"], dt.datetime)
    assert isinstance(found["ComputeTime"], int)

    manifest, lines = _result(store, "bp-1", "ds-in.csv")
    assert manifest == {
        "uploads/ds-in.csv": "out/batch-prediction/result/bp-1-ds-in.csv.gz"
    }
    predictor = engine.load_model(trained)
    expected = []
    for x, c in RECORDS:
        record = {"x": str(x), "c": c}
        prediction = predictor.predict(record)
        (score,) = prediction["predictedScores"].values()
        expected.append(f"{prediction['predictedLabel']},{format_score(score)}")
    assert lines == ["bestAnswer,score", *expected[:2], "", *expected[2:], ""]


def test_row_id_becomes_the_tag_column(engine, store, trained):
    attributes = [("id", "CATEGORICAL"), *INPUT_ATTRS]
    _batch_source(engine, store, "ds-in", ["r1,3,a", "r2,40,d"], attributes, rowId="id")
    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId=trained,
        BatchPredictionDataSourceId="ds-in",
        OutputUri="out",
    )
    _, lines = _result(store, "bp", "ds-in.csv")
    assert lines[0] == "tag,bestAnswer,score"
    assert [line.split(",")[0] for line in lines[1:3]] == ["r1", "r2"]
    assert lines[1].split(",")[1:] == ["1", lines[1].split(",")[2]]
    assert lines[2].split(",")[1] == "0"


def test_score_threshold_moves_best_answer_only(engine, store, trained):
    _batch_source(engine, store, "ds-in", ["3,a", "40,d"], INPUT_ATTRS)
    request = {
        "MLModelId": trained,
        "BatchPredictionDataSourceId": "ds-in",
        "OutputUri": "out",
    }
    engine.create_batch_prediction(BatchPredictionId="bp-a", **request)
    engine.update_ml_model(MLModelId=trained, ScoreThreshold=0.999)
    engine.create_batch_prediction(BatchPredictionId="bp-b", **request)
    _, before = _result(store, "bp-a", "ds-in.csv")
    _, after = _result(store, "bp-b", "ds-in.csv")
    assert [line.split(",")[0] for line in before[1:3]] == ["1", "0"]
    assert [line.split(",")[0] for line in after[1:3]] == ["0", "0"]
    assert [line.split(",")[1] for line in before[1:3]] == [
        line.split(",")[1] for line in after[1:3]
    ]


def test_multiclass_header_is_the_classes_and_every_class_is_scored(
    engine, store, data_source
):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "CATEGORICAL")]
    data_source("mc-train", multiclass_rows(), attrs, "y", TRAIN)
    engine.create_ml_model(
        MLModelId="mc", MLModelType="MULTICLASS", TrainingDataSourceId="mc-train"
    )
    lines = _score(engine, store, "mc", ["3,a", "5,c"])
    assert lines[0] == "A,B,C"
    predictor = engine.load_model("mc")
    for line, (x, c) in zip(lines[1:3], [("3", "a"), ("5", "c")], strict=True):
        scores = predictor.predict({"x": x, "c": c})["predictedScores"]
        assert line == ",".join(format_score(scores[k]) for k in "ABC")
        assert sum(float(v) for v in line.split(",")) == pytest.approx(1, abs=1e-4)


def test_regression_header_is_score(engine, store, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "NUMERIC")]
    data_source("r-train", regression_rows(), attrs, "y")
    engine.create_ml_model(
        MLModelId="r", MLModelType="REGRESSION", TrainingDataSourceId="r-train"
    )
    lines = _score(engine, store, "r", ["10,a"])
    value = engine.load_model("r").predict({"x": "10", "c": "a"})["predictedValue"]
    assert lines == ["score", format_score(value, 7), ""]


def test_output_is_byte_identical_for_the_same_model_and_data(engine, store, trained):
    _batch_source(engine, store, "ds-in", ["3,a", "40,d"], INPUT_ATTRS)
    for folder in ("one", "two"):
        engine.create_batch_prediction(
            BatchPredictionId=f"bp-{folder}",
            MLModelId=trained,
            BatchPredictionDataSourceId="ds-in",
            OutputUri=folder,
        )
    first = store.open("one/batch-prediction/result/bp-one-ds-in.csv.gz").read()
    second = store.open("two/batch-prediction/result/bp-two-ds-in.csv.gz").read()
    assert first == second


def test_class_names_needing_quotes_are_quoted(engine, store, data_source):
    attrs = [("x", "NUMERIC"), ("y", "CATEGORICAL")]
    rows = [[i, '"big, red"' if i % 2 else "small"] for i in range(40)]
    data_source("q-train", rows, attrs, "y")
    engine.create_ml_model(
        MLModelId="q", MLModelType="MULTICLASS", TrainingDataSourceId="q-train"
    )
    lines = _score(engine, store, "q", ["3"], [("x", "NUMERIC")])
    assert lines[0] == '"big, red",small'
    assert next(csv.reader(io.StringIO(lines[0]))) == ["big, red", "small"]


def test_too_many_invalid_records_fail_the_batch(engine, store, trained):
    name = _batch_source(engine, store, "ds-in", ["3,a"], INPUT_ATTRS)
    # The file changed after its data source was read.
    store.write(name, b"3,a\n" + b"x\n" * 10001)
    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId=trained,
        BatchPredictionDataSourceId="ds-in",
        OutputUri="out",
    )
    found = engine.get_batch_prediction(BatchPredictionId="bp")
    assert found["Status"] == "FAILED"
    assert "More than 10000 records were rejected" in found["Message"]
    assert "TotalRecordCount" not in found
    assert not store.exists("out/batch-prediction/bp.manifest")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://bucket/out/", "is an S3 URL"),
        ("out//x", "may not contain '//'"),
        ("out/./x", "may not contain '/./'"),
        ("out/../x", "may not contain '/../'"),
        ("out:x", "may not contain ':'"),
        ("../out", "Store name"),
        ("", "Store name"),
        (5, "must be a string"),
    ],
)
def test_bad_output_uri_is_refused(engine, store, trained, uri, message):
    _batch_source(engine, store, "ds-in", ["3,a"], INPUT_ATTRS)
    with pytest.raises(InvalidInputException, match=message):
        engine.create_batch_prediction(
            BatchPredictionId="bp",
            MLModelId=trained,
            BatchPredictionDataSourceId="ds-in",
            OutputUri=uri,
        )


def test_request_checks_and_lifecycle(engine, store, trained):
    _batch_source(engine, store, "ds-in", ["3,a"], INPUT_ATTRS)
    _batch_source(engine, store, "ds-other", ["3"], [("z", "NUMERIC")])
    request = {
        "BatchPredictionId": "bp",
        "MLModelId": trained,
        "BatchPredictionDataSourceId": "ds-in",
        "OutputUri": "out",
    }
    with pytest.raises(InvalidInputException, match="none of the input attributes"):
        engine.create_batch_prediction(
            **{**request, "BatchPredictionDataSourceId": "ds-other"}
        )
    with pytest.raises(InvalidInputException, match="does not name an existing"):
        engine.create_batch_prediction(**{**request, "MLModelId": "nope"})

    engine.create_batch_prediction(**request)
    assert engine.create_batch_prediction(**request) == {"BatchPredictionId": "bp"}
    with pytest.raises(IdempotentParameterMismatchException):
        engine.create_batch_prediction(**{**request, "OutputUri": "elsewhere"})
    engine.update_batch_prediction(BatchPredictionId="bp", BatchPredictionName="n")
    assert engine.get_batch_prediction(BatchPredictionId="bp")["Name"] == "n"
    engine.delete_batch_prediction(BatchPredictionId="bp")
    assert engine.get_batch_prediction(BatchPredictionId="bp")["Status"] == "DELETED"
    for method in ("get_batch_prediction", "delete_batch_prediction"):
        with pytest.raises(ResourceNotFoundException, match="'gone'"):
            getattr(engine, method)(BatchPredictionId="gone")


def test_batch_reads_the_selected_records_only(engine, store, data_source, trained):
    rows = [[i, "a", "yes"] for i in range(10)]
    data_source("ds-part", rows, ATTRS, "y", {"splitting": {"percentBegin": 70}})
    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId=trained,
        BatchPredictionDataSourceId="ds-part",
        OutputUri="out",
    )
    found = engine.get_batch_prediction(BatchPredictionId="bp")
    assert (found["TotalRecordCount"], found["InvalidRecordCount"]) == (3, 0)
    _, lines = _result(store, "bp", "ds-part.csv")
    assert len(lines) == 1 + 3 + 1
