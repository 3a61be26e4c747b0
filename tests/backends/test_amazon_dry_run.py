"""``learn --dry-run`` on the Amazon backend: every call printed, none made."""

import json
import re

import pytest

from mlpipeline.models import Run, RunStep

from .stubs import BUCKET, PARAMETERS, run_learn
from .test_amazon import SCHEMA, InsurancePipeline, features_file

pytestmark = pytest.mark.django_db


def parse(out):
    header, *lines = out.splitlines()
    calls = []
    for line in lines:
        assert line.startswith("  ")
        method, _, params = line.strip().partition(" ")
        calls.append((method, json.loads(params)))
    return header, calls


def test_dry_run_prints_every_call_with_its_parameters_and_makes_none(
    registered, insured_rows, s3, ml, amazon_options, settings
):
    settings.MLPIPELINE_DEFAULT_BACKEND = "amazon"
    registered(InsurancePipeline)

    out, err = run_learn("aws_insurance", dry_run=True)

    assert err == ""
    assert not Run.objects.exists()
    assert not RunStep.objects.exists()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    ml.assert_no_pending_responses()

    header, calls = parse(out)
    found = re.fullmatch(
        r"aws_insurance: dry run on backend 'amazon', 400 rows \((\d+) train \+ "
        r"(\d+) evaluation\); ids show run (\d+), which was not kept\. Nothing was "
        r"uploaded or created\. The calls:",
        header,
    )
    assert found is not None
    train, evaluation, number = map(int, found.groups())
    expected = {kind: features_file(kind) for kind in ("train", "evaluation")}
    assert (train, evaluation) == (
        expected["train"].count("\n") - 1,
        expected["evaluation"].count("\n") - 1,
    )
    key = f"uploads/aws_insurance-{number}-tok123-features"
    location = f"s3://{BUCKET}/{key}"
    schema_bytes = calls[2][1].pop("Bytes")
    assert schema_bytes > 0
    model = {"MLModelId": f"ml-aws_insurance-{number}-tok123"}
    assert calls == [
        *[
            (
                "upload",
                {
                    "File": f"features-{kind}.csv",
                    "Location": f"{location}-{kind}.csv",
                    "Bucket": BUCKET,
                    "Key": f"{key}-{kind}.csv",
                    "Bytes": len(expected[kind]),
                    "Multipart": False,
                    "ServerSideEncryption": "AES256",
                },
            )
            for kind in ("train", "evaluation")
        ],
        (
            "upload",
            {
                "File": "features.csv.schema",
                "Location": f"{location}.csv.schema",
                "Bucket": BUCKET,
                "Key": f"{key}.csv.schema",
                "Multipart": False,
                "ServerSideEncryption": "AES256",
            },
        ),
        (
            "create_data_source_from_s3",
            {
                "DataSourceId": f"ds-aws_insurance-{number}-tok123-train",
                "DataSourceName": f"aws_insurance run {number} train data",
                "DataSpec": {
                    "DataLocationS3": f"{location}-train.csv",
                    "DataSchema": SCHEMA,
                },
                "ComputeStatistics": True,
            },
        ),
        (
            "get_data_source",
            {"DataSourceId": f"ds-aws_insurance-{number}-tok123-train"},
        ),
        (
            "create_data_source_from_s3",
            {
                "DataSourceId": f"ds-aws_insurance-{number}-tok123-evaluation",
                "DataSourceName": f"aws_insurance run {number} evaluation data",
                "DataSpec": {
                    "DataLocationS3": f"{location}-evaluation.csv",
                    "DataSchema": SCHEMA,
                },
                "ComputeStatistics": True,
            },
        ),
        (
            "get_data_source",
            {"DataSourceId": f"ds-aws_insurance-{number}-tok123-evaluation"},
        ),
        (
            "create_ml_model",
            {
                **model,
                "MLModelName": f"aws_insurance run {number}",
                "MLModelType": "BINARY",
                "Parameters": PARAMETERS,
                "TrainingDataSourceId": f"ds-aws_insurance-{number}-tok123-train",
            },
        ),
        ("get_ml_model", model),
        (
            "create_evaluation",
            {
                "EvaluationId": f"ev-aws_insurance-{number}-tok123",
                "EvaluationName": f"aws_insurance run {number} evaluation",
                **model,
                "EvaluationDataSourceId": (
                    f"ds-aws_insurance-{number}-tok123-evaluation"
                ),
            },
        ),
        ("get_evaluation", {"EvaluationId": f"ev-aws_insurance-{number}-tok123"}),
        ("create_realtime_endpoint", model),
        ("get_ml_model", model),
    ]
