"""Cleanup of superseded runs on the embedded backend, and its command."""

import contextlib
import datetime
from io import StringIO
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from mlpipeline import Pipeline, registry
from mlpipeline.backends import get_backend
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.cleanup import cleanup
from mlpipeline.engine import InvalidInputException
from mlpipeline.learn import learn
from mlpipeline.models import Run, RunStep, TrainedModel
from mlpipeline.serving import predict, serving_run
from project.demo.models import Insured
from tests.served import backdate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def every_model_takes_over(settings):
    """Promote each new model that beats the baseline, whatever its metric.

    Training shuffles by model id, so two runs on the same rows score a
    little apart; these tests are about what a switch leaves behind.
    """
    settings.MLPIPELINE_PROMOTION_MARGIN = 1.0


class InsurancePipeline(Pipeline):
    name = "tidy"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


class BrokenPipeline(InsurancePipeline):
    """The backend refuses its model, after the data sources are made."""


def refuse_model(self, *args, **kwargs):
    raise InvalidInputException("The service refused the model.")


def learn_at(days_ago, pipeline=InsurancePipeline):
    refusing = pipeline is BrokenPipeline
    try:
        with (
            mock.patch.object(EmbeddedBackend, "create_ml_model", refuse_model)
            if refusing
            else contextlib.nullcontext()
        ):
            run = learn(pipeline())
    except InvalidInputException:
        run = Run.objects.latest("pk")
    return backdate(run, days_ago)


def everything(run):
    return {
        "endpoint": [run.model_id],
        "evaluation": [f"ev-tidy-{run.pk}-{run.token}"],
        "mlmodel": [run.model_id],
        "datasource": [
            f"ds-tidy-{run.pk}-{run.token}-train",
            f"ds-tidy-{run.pk}-{run.token}-evaluation",
        ],
        "file": uploads(run),
    }


def uploads(run):
    base = f"uploads/tidy-{run.pk}-{run.token}-features"
    return [f"{base}-train.csv", f"{base}-evaluation.csv", f"{base}.csv.schema"]


def statuses(run):
    engine = get_backend("embedded").client
    return {
        "model": engine.get_ml_model(MLModelId=f"ml-tidy-{run.pk}-{run.token}")[
            "Status"
        ],
        "endpoint": engine.get_ml_model(MLModelId=f"ml-tidy-{run.pk}-{run.token}")[
            "EndpointInfo"
        ]["EndpointStatus"],
        "evaluation": engine.get_evaluation(
            EvaluationId=f"ev-tidy-{run.pk}-{run.token}"
        )["Status"],
        "datasources": [
            engine.get_data_source(DataSourceId=f"ds-tidy-{run.pk}-{run.token}-{kind}")[
                "Status"
            ]
            for kind in ("train", "evaluation")
        ],
        "files": [default_storage.exists(name) for name in uploads(run)],
        # The trained model's weights and feature space.
        "artifacts": [
            default_storage.exists(f"engine/mlmodels/files/{run.model_id}{suffix}")
            for suffix in (".npz", ".features.json")
        ],
    }


LIVE = {
    "model": "COMPLETED",
    "endpoint": "READY",
    "evaluation": "COMPLETED",
    "datasources": ["COMPLETED", "COMPLETED"],
    "files": [True, True, True],
    "artifacts": [True, True],
}
GONE = {
    "model": "DELETED",
    "endpoint": "NONE",
    "evaluation": "DELETED",
    "datasources": ["DELETED", "DELETED"],
    "files": [False, False, False],
    "artifacts": [False, False],
}


def test_cleanup_deletes_what_a_run_superseded_past_the_retention_left(
    insured_rows,
):
    oldest, older, serving = learn_at(40), learn_at(30), learn_at(1)

    (cleaned,) = cleanup()

    assert cleaned.run == oldest
    assert cleaned.deleted == everything(oldest)
    assert cleaned.error == ""
    assert statuses(oldest) == GONE
    # The previous model, a rollback's target, is kept however old.
    assert statuses(older) == LIVE
    assert statuses(serving) == LIVE
    step = oldest.steps.get(name="cleanup")
    assert step.status == RunStep.Status.SUCCEEDED
    assert step.detail == {"deleted": everything(oldest)}
    assert serving_run("tidy") == serving
    assert set(predict("tidy", {"age": 40, "married": True})) == {
        "predictedLabel",
        "predictedScores",
        "details",
    }
    assert cleanup() == []


def test_model_files_where_older_engines_kept_them_are_deleted_too(insured_rows):
    oldest = learn_at(40)
    learn_at(30)
    learn_at(1)
    # Engines before the files/ folder kept a model's files beside it.
    for suffix in (".npz", ".features.json"):
        with default_storage.open(
            f"engine/mlmodels/files/{oldest.model_id}{suffix}"
        ) as file:
            default_storage.save(f"engine/mlmodels/{oldest.model_id}{suffix}", file)
        default_storage.delete(f"engine/mlmodels/files/{oldest.model_id}{suffix}")

    (cleaned,) = cleanup()

    assert cleaned.run == oldest
    assert [
        default_storage.exists(f"engine/mlmodels/{oldest.model_id}{suffix}")
        for suffix in (".npz", ".features.json", ".json")
    ] == [False, False, True]


def test_retention_counts_from_when_a_newer_model_took_over(insured_rows):
    superseded = learn_at(30)
    learn_at(13)
    learn_at(1)

    assert cleanup(retention=datetime.timedelta(days=14)) == []
    assert [c.run for c in cleanup(retention=datetime.timedelta(days=12))] == [
        superseded
    ]


def days_ago(days):
    return timezone.now() - datetime.timedelta(days=days)


def test_retention_counts_from_when_the_model_stopped_being_active(insured_rows):
    """A model rolled back to and replaced again stopped serving late."""
    first, second = learn_at(60), learn_at(50)
    registry.rollback("tidy")
    # The rollback happened 20 days ago: the second model stopped then.
    TrainedModel.objects.filter(run=second).update(deactivated_at=days_ago(20))
    learn_at(10)

    # The second model's retention began at the rollback, though the run
    # after it finished only 10 days ago; the first model is the previous.
    assert cleanup(retention=datetime.timedelta(days=25)) == []
    assert [c.run for c in cleanup(retention=datetime.timedelta(days=15))] == [second]
    assert statuses(first)["model"] == "COMPLETED"


def test_a_refused_model_is_kept_from_its_refusal(insured_rows):
    learn_at(40)
    with mock.patch.object(registry, "judge", return_value=(False, "Not better.")):
        refused = learn_at(20)
    learn_at(30)  # finished before the refusal, still the previous model
    assert refused.trained_model.decision == TrainedModel.Decision.REFUSED

    assert cleanup(retention=datetime.timedelta(days=21)) == []
    assert [c.run for c in cleanup(retention=datetime.timedelta(days=19))] == [refused]


def test_the_active_and_previous_models_are_never_cleaned(insured_rows):
    first, second, third = learn_at(90), learn_at(60), learn_at(30)

    cleaned = cleanup(retention=datetime.timedelta(0))

    assert [c.run for c in cleaned] == [first]
    assert statuses(second) == statuses(third) == LIVE
    registry.rollback("tidy")
    assert serving_run("tidy") == second
    assert cleanup(retention=datetime.timedelta(0)) == []


def test_a_failed_run_loses_what_it_made_once_a_newer_model_took_over(
    insured_rows,
):
    failed = learn_at(40, BrokenPipeline)
    assert failed.status == Run.Status.FAILED
    learn_at(30)

    (cleaned,) = cleanup()

    assert cleaned.run == failed
    assert cleaned.deleted == {
        "datasource": [
            f"ds-tidy-{failed.pk}-{failed.token}-train",
            f"ds-tidy-{failed.pk}-{failed.token}-evaluation",
        ],
        "file": uploads(failed),
    }


def test_runs_of_a_pipeline_that_serves_nothing_are_kept(insured_rows):
    learn_at(40, BrokenPipeline)

    assert cleanup(retention=datetime.timedelta(0)) == []


def test_retention_setting_takes_days_or_a_timedelta(insured_rows, settings):
    superseded = learn_at(3)
    learn_at(2)
    learn_at(1)

    settings.MLPIPELINE_RETENTION = 2.5
    assert cleanup() == []
    settings.MLPIPELINE_RETENTION = datetime.timedelta(days=1)
    assert [c.run for c in cleanup()] == [superseded]


def test_a_retention_that_is_not_a_duration_names_the_setting(db, settings):
    settings.MLPIPELINE_RETENTION = "two weeks"

    with pytest.raises(ImproperlyConfigured) as wrong:
        cleanup()

    assert str(wrong.value) == (
        "MLPIPELINE_RETENTION is 'two weeks'; use a timedelta or a number of days, "
        "0 or more."
    )


def run_cleanup(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("cleanup_models", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_command_lists_each_run_at_verbosity_two(insured_rows):
    oldest = learn_at(40)
    learn_at(30)
    learn_at(1)

    out, err = run_cleanup(verbosity=2)

    assert err == ""
    model, pk = oldest.model_id, f"{oldest.pk}-{oldest.token}"
    assert out == (
        f"tidy run {oldest.pk} (succeeded): deleted endpoint {model}; evaluation "
        f"ev-tidy-{pk}; mlmodel {model}; datasource ds-tidy-{pk}-train, "
        f"ds-tidy-{pk}-evaluation; file uploads/tidy-{pk}-features-train.csv, "
        f"uploads/tidy-{pk}-features-evaluation.csv, "
        f"uploads/tidy-{pk}-features.csv.schema\n"
        "Cleaned 1 run(s).\n"
    )


def test_command_dry_run_deletes_nothing(insured_rows):
    oldest = learn_at(40)
    learn_at(2)
    learn_at(1)

    out, _ = run_cleanup("tidy", dry_run=True, retention_days=0)

    assert out == "Would clean 1 run(s).\n"
    assert statuses(oldest) == LIVE
    assert not oldest.steps.filter(name="cleanup").exists()


def test_command_refuses_a_negative_retention(db):
    with pytest.raises(CommandError, match="--retention-days must be 0 or more"):
        run_cleanup(retention_days=-1)
