"""A run from the database to a served model, and what a failure leaves."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from mlpipeline import Pipeline
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.conf import settings as mlpipeline_settings
from mlpipeline.engine import InvalidInputException, jobs
from mlpipeline.exceptions import DataError, PipelineDeclarationError
from mlpipeline.learn import learn
from mlpipeline.models import PipelineState, Run, RunStep
from mlpipeline.serving import predict, serving_run
from mlpipeline.split import SplitRule
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
    rule = SplitRule("insurance", 70)
    sides = [rule.side(str(pk)) for pk in Insured.objects.values_list("pk", flat=True)]
    assert run.rows_extracted == run.rows_written == 400
    assert (run.rows_train, run.rows_evaluation) == (
        sides.count("train"),
        sides.count("evaluation"),
    )
    assert run.rows_train + run.rows_evaluation == 400
    assert run.model_id == f"ml-insurance-{run.pk}-{run.token}"
    assert len(run.token) == 6
    assert (
        run.endpoint_url == f"http://127.0.0.1:8000/mlpipeline/realtime/{run.model_id}/"
    )
    assert run.metric_name == "BinaryAUC"
    assert run.baseline == 0.5
    # About 120 evaluation rows: over splits of these 400 rows the AUC
    # ranges from 0.57 to 0.73 (the true probabilities score 0.69).
    assert run.metric_value > 0.55
    assert serving_run("insurance") == run
    uploads = f"uploads/insurance-{run.pk}-{run.token}-features"
    assert sorted(default_storage.listdir("uploads")[1]) == [
        f"insurance-{run.pk}-{run.token}-features-evaluation.csv",
        f"insurance-{run.pk}-{run.token}-features-train.csv",
        f"insurance-{run.pk}-{run.token}-features.csv.schema",
    ]
    assert run.steps.get(name="upload").detail == {
        "locations": {
            "train": f"{uploads}-train.csv",
            "evaluation": f"{uploads}-evaluation.csv",
        },
        "schema": f"{uploads}.csv.schema",
    }


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
    for kind in ("train", "evaluation"):
        first_file = default_storage.open(
            f"uploads/insurance-{first.pk}-{first.token}-features-{kind}.csv"
        )
        second_file = default_storage.open(
            f"uploads/insurance-{second.pk}-{second.token}-features-{kind}.csv"
        )
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


def test_backend_refusal_stops_the_run_at_that_step(insured_rows, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise InvalidInputException("The service refused the model.")

    monkeypatch.setattr(EmbeddedBackend, "create_ml_model", refuse)

    with pytest.raises(InvalidInputException, match="refused the model"):
        learn(InsurancePipeline())

    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert run.steps.get(name="model").status == RunStep.Status.FAILED
    assert not run.steps.filter(name__in=["evaluation", "endpoint"]).exists()
    assert not run.model_id


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            {"sgd": {"sgd.maxPasses": 0}},
            "'insurance' sgd: Training parameter 'sgd.maxPasses' has value '0'",
        ),
        ({"sgd": {"sgd.bogus": 1}}, "'insurance' sgd: .*'sgd.bogus'"),
        ({"sgd": [1]}, "has sgd \\[1\\]; give a dict"),
        (
            {
                "sgd": {
                    "sgd.l1RegularizationAmount": 0.1,
                    "sgd.l2RegularizationAmount": 0.1,
                }
            },
            "sets both sgd.l1RegularizationAmount and sgd.l2RegularizationAmount",
        ),
        ({"recipe": '{"outputs": ["nope"]}'}, "'insurance' recipe: .*nope"),
        ({"recipe": {"outputs": []}}, "has a recipe of type dict"),
        ({"backend": "nope"}, "MLPIPELINE_BACKENDS has no backend 'nope'"),
        ({"chunk_size": 0}, "has chunk_size 0"),
        ({"train_percent": True}, "has train_percent True"),
    ],
)
def test_bad_options_are_refused_before_any_run(insured_rows, attributes, message):
    pipeline = type("Bad", (InsurancePipeline,), attributes)()

    with pytest.raises(PipelineDeclarationError, match=message):
        learn(pipeline)

    assert not Run.objects.exists()
    assert not default_storage.exists("uploads")


def test_declaration_errors_record_no_run(db):
    class Unknown(InsurancePipeline):
        fields = ["age", "salary", "insurance"]

    with pytest.raises(PipelineDeclarationError, match="names field 'salary'"):
        learn(Unknown())
    assert not Run.objects.exists()


def test_runs_with_the_same_number_in_two_databases_do_not_share_entities(
    insured_rows,
):
    first = learn(InsurancePipeline())
    PipelineState.objects.all().delete()
    Run.objects.all().delete()
    Insured.objects.update(insurance=False)
    Insured.objects.filter(age__gt=40).update(insurance=True)

    second = learn(InsurancePipeline())

    assert second.model_id != first.model_id
    assert second.metric_value > 0.95


def test_training_keeps_its_temporary_files_in_the_temp_dir(
    insured_rows, settings, tmp_path, monkeypatch
):
    settings.MLPIPELINE_TEMP_DIR = tmp_path / "engine-tmp"
    made = []
    temporary_folder = jobs._temporary_folder

    def spy(temp_dir, prefix):
        folder = temporary_folder(temp_dir, prefix)
        made.append(Path(folder.name))
        return folder

    monkeypatch.setattr(jobs, "_temporary_folder", spy)

    learn(InsurancePipeline())

    assert [folder.parent for folder in made] == [tmp_path / "engine-tmp"]
    assert made[0].name.startswith("mlpipeline-train-")
    assert list((tmp_path / "engine-tmp").iterdir()) == []


def test_the_temp_dir_defaults_to_tmp_in_the_work_dir(settings, tmp_path):
    settings.MLPIPELINE_WORK_DIR = tmp_path / "work"

    assert mlpipeline_settings.temp_dir == tmp_path / "work" / "tmp"
