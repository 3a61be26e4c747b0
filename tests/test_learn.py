"""A run from the database to a served model, and what a failure leaves."""

import pytest
from django.core.files.storage import default_storage

from mlpipeline import Pipeline
from mlpipeline.engine import InvalidInputException
from mlpipeline.exceptions import DataError, PipelineDeclarationError
from mlpipeline.learn import learn
from mlpipeline.models import Run, RunStep
from mlpipeline.serving import predict, serving_run
from project.demo.models import Insured

pytestmark = pytest.mark.django_db

LOAD_STEPS = [
    "extract", "transform", "upload", "train_datasource", "evaluation_datasource",
    "model", "evaluation", "endpoint",
]  # fmt: skip


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "gender", "insurance"]
    target = "insurance"


def test_learn_records_every_step_and_serves_the_model(insured_rows):
    run = learn(InsurancePipeline())

    assert run.status == Run.Status.SUCCEEDED
    assert list(run.steps.values_list("name", "status")) == [
        (name, RunStep.Status.SUCCEEDED) for name in LOAD_STEPS
    ]
    assert run.rows_extracted == run.rows_written == 400
    assert run.rows_train + run.rows_evaluation == 400
    assert 240 < run.rows_train < 320
    assert run.model_id == f"ml-insurance-{run.pk}"
    assert (
        run.endpoint_url == f"http://127.0.0.1:8000/mlpipeline/realtime/{run.model_id}/"
    )
    assert run.metric_name == "BinaryAUC"
    assert run.baseline == 0.5
    assert run.metric_value > 0.6
    assert serving_run("insurance") == run
    assert default_storage.exists(f"uploads/insurance-{run.pk}-features.csv")
    assert default_storage.exists(f"uploads/insurance-{run.pk}-features.csv.schema")


def test_the_served_model_answers_in_amazon_ml_shape(insured_rows):
    learn(InsurancePipeline())

    old = predict("insurance", {"age": 63, "married": True, "gender": "male"})
    young = predict("insurance", {"age": 19, "married": False, "gender": "male"})

    assert set(old) == {"predictedLabel", "predictedScores", "details"}
    assert old["details"] == {"PredictiveModelType": "BINARY", "Algorithm": "SGD"}
    (old_score,) = old["predictedScores"].values()
    (young_score,) = young["predictedScores"].values()
    assert old_score > young_score


def test_split_is_the_same_on_every_run(insured_rows):
    first = learn(InsurancePipeline())
    second = learn(InsurancePipeline())

    assert (first.rows_train, first.rows_evaluation) == (
        second.rows_train,
        second.rows_evaluation,
    )
    first_file = default_storage.open(f"uploads/insurance-{first.pk}-features.csv")
    second_file = default_storage.open(f"uploads/insurance-{second.pk}-features.csv")
    with first_file, second_file:
        assert first_file.read() == second_file.read()


def test_transform_then_load_as_two_invocations(insured_rows):
    transformed = learn(InsurancePipeline(), only="transform")
    assert transformed.status == Run.Status.TRANSFORMED
    assert not transformed.model_id

    loaded = learn(InsurancePipeline(), only="load")

    assert loaded.pk == transformed.pk
    assert loaded.status == Run.Status.SUCCEEDED
    assert loaded.rows_train + loaded.rows_evaluation == 400


def test_empty_queryset_fails_the_run_and_uploads_nothing(db):
    with pytest.raises(DataError, match="'insurance' has no rows to learn from"):
        learn(InsurancePipeline())

    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert "queryset is empty" in run.error
    assert run.steps.get(name="transform").status == RunStep.Status.FAILED
    assert not default_storage.exists("uploads")


def test_one_class_target_keeps_the_serving_model(insured_rows):
    good = learn(InsurancePipeline())
    Insured.objects.update(insurance=True)

    with pytest.raises(
        DataError, match=r"target 'insurance' has only the value\(s\) \[\"1\"\]"
    ):
        learn(InsurancePipeline())

    assert serving_run("insurance") == good
    assert Run.objects.filter(status=Run.Status.FAILED).count() == 1


def test_backend_refusal_stops_the_run_before_the_model(insured_rows):
    class Bad(InsurancePipeline):
        sgd = {"sgd.maxPasses": 0}

    with pytest.raises(InvalidInputException, match=r"sgd\.maxPasses"):
        learn(Bad())

    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert run.steps.get(name="model").status == RunStep.Status.FAILED
    assert not run.steps.filter(name__in=["evaluation", "endpoint"]).exists()
    assert not run.model_id


def test_declaration_errors_record_no_run(db):
    class Unknown(InsurancePipeline):
        fields = ["age", "salary", "insurance"]

    with pytest.raises(PipelineDeclarationError, match="names field 'salary'"):
        learn(Unknown())
    assert not Run.objects.exists()
