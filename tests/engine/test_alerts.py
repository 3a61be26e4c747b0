import json

import pytest

from .conftest import ATTRS, TEST, TRAIN, binary_rows, regression_rows


def _evaluate(engine, model_id, source_id, evaluation_id="ev"):
    engine.create_evaluation(
        EvaluationId=evaluation_id, MLModelId=model_id, EvaluationDataSourceId=source_id
    )
    found = engine.get_evaluation(EvaluationId=evaluation_id)
    assert found["Status"] == "COMPLETED", found.get("Message")
    return found["Report"]


def _codes(report):
    return [alert["code"] for alert in report["alerts"]]


def _training(store, model_id):
    return json.loads(store.open(f"engine/mlmodels/{model_id}.json").read())["training"]


def test_held_out_split_of_the_same_file_raises_no_alert(engine, trained):
    report = _evaluate(engine, trained, "ds-test")
    assert report["alerts"] == []
    counts = report["target_distribution"]["class_counts"]
    rows = report["confusion_matrix"]["matrix"]
    assert [counts["0"], counts["1"]] == [sum(row) for row in rows]


def test_evaluating_on_the_training_data_is_flagged(engine, store, trained):
    train = engine.get_data_source(DataSourceId="ds-train")["Statistics"]["records"]
    report = _evaluate(engine, trained, "ds-train")
    assert _codes(report) == ["HeldOutData"]
    assert report["alerts"][0]["message"] == (
        f"{train['selected']} evaluation records were also training records; "
        "evaluate on records the model has not seen, such as the complement of "
        "the training split."
    )


def test_shared_file_with_overlapping_rearrangements(engine, store, data_source):
    data_source("ds-a", binary_rows(), ATTRS, "y", {"splitting": {"percentEnd": 70}})
    spec = {
        "DataLocationS3": "uploads/ds-a.csv",
        "DataSchema": json.dumps(
            {
                "targetAttributeName": "y",
                "attributes": [
                    {"attributeName": n, "attributeType": t} for n, t in ATTRS
                ],
            }
        ),
        "DataRearrangement": json.dumps({"splitting": {"percentBegin": 60}}),
    }
    engine.create_data_source_from_s3(DataSourceId="ds-b", DataSpec=spec)
    engine.create_ml_model(
        MLModelId="ml", MLModelType="BINARY", TrainingDataSourceId="ds-a"
    )
    report = _evaluate(engine, "ml", "ds-b")
    # Sequential 0-70 and 60-100 of 300 records share records 180-209.
    assert report["alerts"][0]["code"] == "HeldOutData"
    assert report["alerts"][0]["message"].startswith("30 evaluation records")


def test_small_evaluation_is_flagged(engine, data_source, trained):
    data_source("ds-few", binary_rows(8, seed=5), ATTRS, "y")
    report = _evaluate(engine, trained, "ds-few")
    assert "SufficientData" in _codes(report)
    message = next(a for a in report["alerts"] if a["code"] == "SufficientData")
    used = engine.get_data_source(DataSourceId="ds-train")["Statistics"]["records"]
    assert message["message"] == (
        f"The evaluation used 8 records, fewer than 10% of the {used['valid']} "
        "training records."
    )


def test_schema_differences_are_listed(engine, data_source, trained):
    attrs = [("c", "CATEGORICAL"), ("x", "CATEGORICAL"), ("z", "TEXT"), ("y", "BINARY")]
    rows = [[c, x, "w", y] for x, c, y in binary_rows(200, seed=2)]
    data_source("ds-other", rows, attrs, "y")
    report = _evaluate(engine, trained, "ds-other")
    alert = next(a for a in report["alerts"] if a["code"] == "SchemaMatched")
    assert alert["message"] == (
        "The evaluation schema differs from the training schema: it adds 'z'; "
        "'x' is CATEGORICAL, NUMERIC in training."
    )


def test_unused_records_are_flagged(engine, store, trained):
    rows = binary_rows()
    lines = [",".join(map(str, r)) for r in rows]
    lines += ["7,a,", "7,a,maybe", "too,many,fields,here"]
    store.write("uploads/bad.csv", ("\n".join(lines) + "\n").encode())
    engine.create_data_source_from_s3(
        DataSourceId="ds-bad",
        DataSpec={
            "DataLocationS3": "uploads/bad.csv",
            "DataSchema": engine.get_data_source(DataSourceId="ds-train", Verbose=True)[
                "DataSourceSchema"
            ],
        },
    )
    report = _evaluate(engine, trained, "ds-bad")
    assert (report["records"], report["invalid_records"]) == (300, 3)
    assert report["alerts"] == [
        {
            "code": "AllRecordsUsed",
            "message": "3 of the 303 selected evaluation records were invalid or "
            "had no valid target and were not used.",
        }
    ]


def test_changed_class_shares_are_flagged(engine, store, data_source, trained):
    rows = [r for r in binary_rows(600, seed=7) if r[2] == "yes"][:90]
    rows += [r for r in binary_rows(600, seed=7) if r[2] == "no"][:10]
    data_source("ds-skewed", rows, ATTRS, "y")
    trained_counts = _training(store, trained)["class_counts"]
    n = sum(trained_counts.values())
    distance = 0.5 * (
        abs(trained_counts["0"] / n - 0.1) + abs(trained_counts["1"] / n - 0.9)
    )
    report = _evaluate(engine, trained, "ds-skewed")
    assert report["target_distribution"] == {"class_counts": {"0": 10, "1": 90}}
    assert report["alerts"] == [
        {
            "code": "TargetDistribution",
            "message": "The target distribution changed: the class shares differ "
            f"by a total variation distance of {distance:.3f} (more than 0.1).",
        }
    ]


def test_shifted_regression_target_is_flagged(engine, store, data_source):
    attrs = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "NUMERIC")]
    data_source("r-train", regression_rows(), attrs, "y", TRAIN)
    data_source("r-test", regression_rows(), attrs, "y", TEST)
    shifted = [[x, c, y + 100] for x, c, y in regression_rows(100, seed=3)]
    data_source("r-shift", shifted, attrs, "y")
    engine.create_ml_model(
        MLModelId="r", MLModelType="REGRESSION", TrainingDataSourceId="r-train"
    )
    assert _evaluate(engine, "r", "r-test", "ev-1")["alerts"] == []
    report = _evaluate(engine, "r", "r-shift", "ev-2")
    training = _training(store, "r")
    mean = report["target_distribution"]["mean"]
    assert mean == pytest.approx(
        sum(y for _, _, y in shifted) / len(shifted), rel=1e-12
    )
    shift = abs(mean - training["target_mean"]) / training["target_std"]
    assert report["alerts"] == [
        {
            "code": "TargetDistribution",
            "message": "The target distribution changed: the evaluation target's "
            f"mean {mean:.6g} is {shift:.2f} training standard deviations from the "
            f"training mean {training['target_mean']:.6g} (more than 0.5).",
        }
    ]
