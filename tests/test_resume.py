"""A run interrupted mid-way resumes without creating anything twice."""

import pytest
from django.core.files.storage import default_storage

from mlpipeline import Pipeline
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.learn import learn, resume
from mlpipeline.models import Run, RunStep
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


@pytest.fixture(autouse=True)
def declared(registered):
    registered(InsurancePipeline)


class WorkerDied(Exception):
    pass


@pytest.fixture
def dies_once_waiting_for(monkeypatch):
    """Make the first wait for an entity kind raise, as a dying worker."""

    def arm(kind):
        real_wait = EmbeddedBackend.wait
        calls = []

        def wait(self, waited_kind, entity_id):
            if waited_kind == kind and not calls:
                calls.append(entity_id)
                raise WorkerDied(f"killed while waiting for {entity_id}")
            return real_wait(self, waited_kind, entity_id)

        monkeypatch.setattr(EmbeddedBackend, "wait", wait)
        return calls

    return arm


def entity_files(folder):
    return sorted(default_storage.listdir(f"engine/{folder}")[1])


@pytest.mark.parametrize("kind", ["datasource", "mlmodel", "evaluation"])
def test_resumed_run_reuses_what_was_created(insured_rows, dies_once_waiting_for, kind):
    died = dies_once_waiting_for(kind)
    with pytest.raises(WorkerDied):
        learn(InsurancePipeline())
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    done_before = set(
        run.steps.filter(status=RunStep.Status.SUCCEEDED).values_list("name", flat=True)
    )

    resumed = resume(run)

    assert resumed.pk == run.pk
    assert resumed.status == Run.Status.SUCCEEDED
    assert resumed.rows_train + resumed.rows_evaluation == 400
    assert {"extract", "transform", "upload"} <= done_before
    reused = [e["detail"] for e in resumed.events if e["event"] == "reused"]
    assert reused == [f"{kind} {died[0]} existed from an earlier attempt"]
    assert entity_files("datasources") == [
        f"ds-insurance-{run.pk}-{run.token}-evaluation.json",
        f"ds-insurance-{run.pk}-{run.token}-train.json",
    ]
    assert [
        n
        for n in entity_files("mlmodels")
        if n.endswith(".json") and "features" not in n
    ] == [f"ml-insurance-{run.pk}-{run.token}.json"]
    assert entity_files("evaluations") == [f"ev-insurance-{run.pk}-{run.token}.json"]


def test_completed_steps_are_not_run_again(insured_rows, dies_once_waiting_for):
    dies_once_waiting_for("evaluation")
    with pytest.raises(WorkerDied):
        learn(InsurancePipeline())
    run = Run.objects.get()
    finished = dict(run.steps.values_list("name", "finished_at"))
    Insured.objects.all().delete()

    resumed = resume(run)

    # Extract and transform were not repeated: the table is empty now.
    assert resumed.status == Run.Status.SUCCEEDED
    again = dict(resumed.steps.values_list("name", "finished_at"))
    for name in ["extract", "transform", "upload", "train_datasource", "model"]:
        assert again[name] == finished[name]
    assert resumed.rows_extracted == 400


def test_resuming_a_succeeded_run_is_refused(insured_rows):
    run = learn(InsurancePipeline())

    with pytest.raises(Exception, match=f"Run {run.pk} of 'insurance' has already"):
        resume(run)


def test_a_run_cut_off_between_uploads_uploads_both_sides_again(
    insured_rows, monkeypatch
):
    real_upload = EmbeddedBackend.upload
    tried = []

    def upload(self, path, name):
        tried.append(path.name)
        if path.name == "features-evaluation.csv" and tried.count(path.name) == 1:
            raise WorkerDied(f"killed while uploading {name}")
        return real_upload(self, path, name)

    monkeypatch.setattr(EmbeddedBackend, "upload", upload)
    with pytest.raises(WorkerDied):
        learn(InsurancePipeline())
    run = Run.objects.get()
    transformed = run.steps.get(name="transform").finished_at
    Insured.objects.all().delete()

    resumed = resume(run)

    # The split files the transform made are reused, whole.
    assert resumed.status == Run.Status.SUCCEEDED
    assert resumed.steps.get(name="transform").finished_at == transformed
    assert tried == [
        "features-train.csv", "features-evaluation.csv",
        "features-train.csv", "features-evaluation.csv", "features.csv.schema",
    ]  # fmt: skip
    assert resumed.rows_train + resumed.rows_evaluation == 400
    prefix = f"insurance-{run.pk}-{run.token}-features"
    assert sorted(default_storage.listdir("uploads")[1]) == [
        f"{prefix}-evaluation.csv",
        f"{prefix}-train.csv",
        f"{prefix}.csv.schema",
    ]
