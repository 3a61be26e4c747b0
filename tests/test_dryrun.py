"""``learn --dry-run`` on the embedded backend, and dry_run() itself."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mlpipeline import Pipeline
from mlpipeline.dryrun import dry_run
from mlpipeline.exceptions import DataError
from mlpipeline.learn import learn
from mlpipeline.models import Run, RunStep
from mlpipeline.schema import layout_for
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class InsurancePipeline(Pipeline):
    name = "dry_insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


def run_learn(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("learn", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_dry_run_lists_the_calls_of_a_whole_run_and_keeps_nothing(insured_rows, files):
    found = dry_run(InsurancePipeline())

    assert not Run.objects.exists()
    assert not RunStep.objects.exists()
    # Neither the storage (uploads, engine entities) nor the work folder.
    assert not (files / "media").exists()
    assert not (files / "work").exists()
    assert found.backend == "embedded"
    assert found.rows == 400
    assert found.rows_train + found.rows_evaluation == 400
    assert [call.method for call in found.calls] == [
        "upload", "upload", "upload",
        "create_data_source_from_s3", "get_data_source",
        "create_data_source_from_s3", "get_data_source",
        "create_ml_model", "get_ml_model",
        "create_evaluation", "get_evaluation",
        "create_realtime_endpoint", "get_ml_model",
    ]  # fmt: skip
    name = f"uploads/dry_insurance-{found.run_number}-{found.run_token}-features"
    assert [
        (call.params["File"], call.params["Location"]) for call in found.calls[:3]
    ] == [
        ("features-train.csv", f"{name}-train.csv"),
        ("features-evaluation.csv", f"{name}-evaluation.csv"),
        ("features.csv.schema", f"{name}.csv.schema"),
    ]
    # Each data source is a whole file: the transform split the rows.
    assert found.calls[3].params["DataSpec"] == {
        "DataLocationS3": f"{name}-train.csv",
        "DataSchema": json.dumps(layout_for(InsurancePipeline()).schema()),
    }
    assert found.calls[5].params["DataSpec"]["DataLocationS3"] == (
        f"{name}-evaluation.csv"
    )


def test_dry_run_counts_rows_as_a_real_run_does(insured_rows):
    planned = dry_run(InsurancePipeline())
    real = learn(InsurancePipeline())

    assert (planned.rows_train, planned.rows_evaluation) == (
        real.rows_train,
        real.rows_evaluation,
    )


def test_learn_dry_run_prints_one_line_per_call(registered, insured_rows):
    registered(InsurancePipeline)

    out, err = run_learn("dry_insurance", dry_run=True)

    header, *calls = out.splitlines()
    assert err == ""
    assert header.startswith("dry_insurance: dry run on backend 'embedded', 400 rows (")
    assert header.endswith("Nothing was uploaded or created. The calls:")
    assert [line.split(" ")[2] for line in calls][:4] == [
        "upload",
        "upload",
        "upload",
        "create_data_source_from_s3",
    ]
    assert not Run.objects.exists()


def test_learn_dry_run_at_verbosity_zero_prints_nothing(registered, insured_rows):
    registered(InsurancePipeline)

    assert run_learn("dry_insurance", dry_run=True, verbosity=0) == ("", "")
    assert not Run.objects.exists()


def test_dry_run_reports_what_would_stop_the_run(registered, db):
    registered(InsurancePipeline)

    with pytest.raises(CommandError, match="Failed: dry_insurance"):
        run_learn("dry_insurance", dry_run=True)

    with pytest.raises(DataError, match="'dry_insurance' has no rows to learn from"):
        dry_run(InsurancePipeline())
    assert not Run.objects.exists()


def test_dry_run_cannot_be_combined_with_only(registered):
    registered(InsurancePipeline)

    with pytest.raises(CommandError, match="--dry-run cannot be combined with --only"):
        run_learn("dry_insurance", dry_run=True, only="load")
