"""Faults during a run: each fails the run with its cause, the active model
keeps serving, earlier files stay, and a rerun finishes without duplicates.

The faults are real where they can be: a storage that writes half a file
and fails, a database connection that the server drops mid-extract,
training data whose values overflow every learner, a ``manage.py learn``
killed with SIGKILL right after a step.
"""

import datetime
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.db.models.signals import post_save

from mlpipeline import Pipeline, registry
from mlpipeline.backends import get_backend
from mlpipeline.engine.sgd import LEARNING_RATES
from mlpipeline.exceptions import DatabaseUnavailable, StepFailed
from mlpipeline.learn import learn, resume
from mlpipeline.load import entity_ids
from mlpipeline.models import PipelineState, Run, RunStep, TrainedModel
from mlpipeline.pipeline import site
from mlpipeline.serving import predict
from project.demo.models import HotelBooking
from tests.faults import FailingStorage
from tests.insurance import InsurancePipeline
from tests.processes import ROOT, process_env

RECORD = {"age": 61, "married": True, "gender": "male"}


def stored_files():
    """Return every file in the storage, by name, with its size."""
    root = Path(django_settings.MEDIA_ROOT)
    return {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file()
    }


def entity_documents(kind):
    """Return the names of the engine's entity documents of ``kind``."""
    folder = {"datasource": "datasources", "mlmodel": "mlmodels"}.get(kind, kind)
    return sorted(
        name.rsplit("/", 1)[1]
        for name in stored_files()
        if name.startswith(f"engine/{folder}/")
        and name.endswith(".json")
        and not name.endswith(".features.json")
    )


class Serving:
    """The model a first, successful run put into service, and its answer."""

    def __init__(self, pipeline_name, record):
        self.pipeline = pipeline_name
        self.record = record
        self.state = PipelineState.objects.get(name=pipeline_name)
        self.model = self.state.active_model
        self.answer = predict(pipeline_name, record)
        self.files = stored_files()

    def check_unchanged(self):
        """Assert the same model serves, answers alike, and files stayed."""
        state = PipelineState.objects.get(name=self.pipeline)
        assert (state.active_model, state.version) == (self.model, self.state.version)
        assert predict(self.pipeline, self.record) == self.answer
        now = stored_files()
        assert {name: now.get(name) for name in self.files} == self.files


def assert_one_set_of_entities_per_run(*runs):
    """Assert each run made the entities of the steps it tried, once each.

    Nothing else may exist in the storage: no entity made twice under
    another id, no upload of a run that failed before uploading.
    """
    expected = {"datasource": [], "mlmodel": [], "evaluations": [], "uploads": []}
    for run in runs:
        ids = entity_ids(run)
        tried = set(run.steps.values_list("name", flat=True))
        for kind in ("train_datasource", "evaluation_datasource"):
            if kind in tried:
                expected["datasource"].append(f"{ids[kind]}.json")
        if "model" in tried:
            expected["mlmodel"].append(f"{ids['model']}.json")
        if "evaluation" in tried:
            expected["evaluations"].append(f"{ids['evaluation']}.json")
        if "upload" in tried:
            upload = f"uploads/{run.pipeline}-{run.pk}-{run.token}-features.csv"
            expected["uploads"] += [upload, upload + ".schema"]
    for kind in ("datasource", "mlmodel", "evaluations"):
        assert entity_documents(kind) == sorted(expected[kind]), kind
    uploads = sorted(n for n in stored_files() if n.startswith("uploads/"))
    assert uploads == sorted(expected["uploads"])
    assert TrainedModel.objects.count() == sum(
        run.steps.filter(name="evaluation", status="succeeded").exists() for run in runs
    )


@pytest.fixture(autouse=True)
def declared(registered):
    registered(InsurancePipeline)


@pytest.fixture
def failing_storage(settings):
    """Store files through :class:`FailingStorage`, not failing yet."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.faults.FailingStorage"},
    }
    FailingStorage.failing = FailingStorage.unreadable = None
    yield FailingStorage
    FailingStorage.failing = FailingStorage.unreadable = None


@pytest.fixture
def serving(insured_rows):
    """Train and serve a first insurance model; return what it serves."""
    first = learn(InsurancePipeline())
    assert first.trained_model.decision == TrainedModel.Decision.PROMOTED
    return Serving("insurance", RECORD)


# Storage ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failing", "step", "error", "rerun"),
    [
        (
            r"^uploads/.*-features\.csv$",
            "upload",
            "[Errno 28] No space left on device: "
            "'uploads/insurance-{run.pk}-{run.token}-features.csv'",
            [],
        ),
        (
            r"^engine/mlmodels/.*\.npz$",
            "model",
            "Step 'mlmodel' failed: ml-insurance-{run.pk}-{run.token} says: "
            "Internal error: OSError: [Errno 28] No space left on device: "
            "'engine/mlmodels/files/ml-insurance-{run.pk}-{run.token}.npz'",
            ["mlmodel ml-insurance-{run.pk}-{run.token} was left FAILED"],
        ),
    ],
    ids=["features-upload", "model-weights"],
)
def test_a_storage_write_failing_half_way_fails_the_run_until_resumed(
    failing_storage, serving, failing, step, error, rerun
):
    failing_storage.failing = failing

    with pytest.raises((OSError, StepFailed)):
        learn(InsurancePipeline())

    run = Run.objects.latest("pk")
    assert run.status == Run.Status.FAILED
    assert run.error == error.format(run=run)
    assert run.steps.get(name=step).status == RunStep.Status.FAILED
    assert run.steps.get(name=step).error.endswith(
        "No space left on device: " + error.format(run=run).rsplit(": ", 1)[1]
    )
    assert not TrainedModel.objects.filter(run=run).exists()
    serving.check_unchanged()
    # The half-written file is there, shorter than it should be.
    half = error.format(run=run).rsplit("'", 2)[1]
    assert 0 < stored_files()[half]

    failing_storage.failing = None
    resumed = resume(run)

    assert resumed.status == Run.Status.SUCCEEDED
    assert resumed.rows_train + resumed.rows_evaluation == 400
    resubmitted = [e["detail"] for e in resumed.events if e["event"] == "resubmitted"]
    assert resubmitted == [detail.format(run=run) for detail in rerun]
    first = serving.model.run
    with (
        open(Path(django_settings.MEDIA_ROOT) / entity_upload(first), "rb") as a,
        open(Path(django_settings.MEDIA_ROOT) / entity_upload(resumed), "rb") as b,
    ):
        assert a.read() == b.read()
    assert_one_set_of_entities_per_run(first, resumed)


def entity_upload(run):
    return f"uploads/{run.pipeline}-{run.pk}-{run.token}-features.csv"


def test_a_model_whose_evaluation_failed_is_never_promoted(failing_storage, serving):
    def unreadable_after_training(sender, instance, **kwargs):
        if instance.name == "model" and instance.status == "succeeded":
            failing_storage.unreadable = r"^uploads/"

    post_save.connect(unreadable_after_training, sender=RunStep)
    try:
        with pytest.raises(StepFailed):
            learn(InsurancePipeline())
    finally:
        post_save.disconnect(unreadable_after_training, sender=RunStep)

    run = Run.objects.latest("pk")
    ids = entity_ids(run)
    upload = f"uploads/insurance-{run.pk}-{run.token}-features.csv"
    assert run.status == Run.Status.FAILED
    assert run.error == (
        f"Step 'evaluation' failed: {ids['evaluation']} says: Internal error: "
        f"OSError: [Errno 5] Input/output error: '{upload}'"
    )
    assert run.model_id == ids["model"]
    assert run.metric_value is None
    assert not TrainedModel.objects.filter(run=run).exists()
    serving.check_unchanged()

    failing_storage.unreadable = None
    resumed = resume(run)

    assert resumed.status == Run.Status.SUCCEEDED
    assert resumed.trained_model.metric_value == resumed.metric_value
    assert_one_set_of_entities_per_run(serving.model.run, resumed)


def test_the_gate_refuses_a_model_without_a_finite_metric(serving):
    run = Run.objects.create(
        pipeline="insurance", backend="embedded", model_type="BINARY",
        model_id="ml-insurance-nan", metric_name="BinaryAUC",
        metric_value=float("nan"),
    )  # fmt: skip
    state = PipelineState.objects.get(name="insurance")
    state.active_model = None
    state.save()

    model = registry.decide(registry.record(run))

    assert model.decision == TrainedModel.Decision.REFUSED
    assert model.decision_reason == (
        "Model ml-insurance-nan has the non-finite BinaryAUC nan."
    )
    assert PipelineState.objects.get(name="insurance").active_model is None


# Database --------------------------------------------------------------------


def drop_connection():
    """Cut the default database connection under the running query.

    PostgreSQL: a second connection terminates this one's server process,
    as a restarted or failed-over server would. SQLite has no server, so
    its connection is interrupted, which aborts the statement under way.
    """
    if connection.vendor == "postgresql":
        pid = connection.connection.info.backend_pid
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()
    else:
        connection.connection.interrupt()


class DroppingPipeline(InsurancePipeline):
    """Read rows one model instance at a time; lose the connection at 150."""

    chunk_size = 50
    drop_at = 150

    def row(self, instance):
        self.read = getattr(self, "read", 0) + 1
        if self.read == self.drop_at:
            drop_connection()
        return [instance.age, instance.married, instance.gender, instance.insurance]


EXPECTED_CAUSE = {
    "postgresql": "terminating connection due to administrator command",
    "sqlite": "interrupted",
}


@pytest.mark.django_db(transaction=True)
def test_a_database_connection_dropped_during_extract_fails_the_run(serving):
    with pytest.raises(DatabaseUnavailable):
        learn(DroppingPipeline())

    run = Run.objects.latest("pk")
    cause = EXPECTED_CAUSE[connection.vendor]
    message = (
        f"Pipeline 'insurance': the database connection failed while extracting "
        f"rows ({cause}). Resume the run once the database answers; the extract "
        "starts again."
    )
    assert run.status == Run.Status.FAILED
    assert run.error == message
    assert list(run.steps.values_list("name", "status", "error")) == [
        ("extract", RunStep.Status.FAILED, message)
    ]
    serving.check_unchanged()

    resumed = resume(run)

    assert resumed.status == Run.Status.SUCCEEDED
    assert resumed.rows_extracted == resumed.rows_written == 400
    assert resumed.rows_train + resumed.rows_evaluation == 400
    assert_one_set_of_entities_per_run(serving.model.run, resumed)


# Training --------------------------------------------------------------------


class RatePipeline(Pipeline):
    """Last year's rate, read as it is (no bins), predicts this year's."""

    name = "room_rate"
    model = HotelBooking
    fields = ["historical_adr", "lead_time", "avg_price_per_room"]
    target = "avg_price_per_room"
    recipe = '{"outputs": ["historical_adr", "lead_time"]}'


@pytest.fixture
def bookings(db, registered):
    """Fill HotelBooking with 300 rooms whose price follows last year's."""
    registered(RatePipeline)
    rng = random.Random(11)
    rooms = []
    for i in range(300):
        historical = rng.uniform(60, 200)
        rooms.append(
            HotelBooking(
                avg_price_per_room=20 + 0.9 * historical + rng.gauss(0, 5),
                historical_adr=historical,
                lead_time=rng.randint(0, 300),
                stays_in_weekend_nights=1, stays_in_week_nights=2, adults=2,
                children=0, babies=0, meal="BB", country="PRT",
                market_segment="Online TA", distribution_channel="TA/TO",
                is_repeated_guest=False, previous_cancellations=0,
                previous_bookings_not_canceled=0, reserved_room_type="A",
                assigned_room_type="A", booking_changes=0, agent="9",
                company="", days_in_waiting_list=0, customer_type="Transient",
                required_car_parking_spaces=0, total_of_special_requests=0,
                arrival_date=datetime.date(2024, 1, 1) + datetime.timedelta(i),
                near_christmas=False, near_new_years=False,
            )
        )  # fmt: skip
    HotelBooking.objects.bulk_create(rooms)


def test_training_that_diverges_fails_the_model_and_promotes_nothing(bookings):
    first = learn(RatePipeline())
    serving = Serving("room_rate", {"historical_adr": 120, "lead_time": 30})
    assert first.metric_value < first.baseline
    # A tenth of last year's rates were stored in the wrong unit, so large
    # that their squares overflow: every learner's objective becomes NaN.
    rates = dict(HotelBooking.objects.values_list("pk", "historical_adr"))
    outliers = sorted(rates)[::10]
    HotelBooking.objects.filter(pk__in=outliers).update(historical_adr=1e300)

    with pytest.raises(StepFailed):
        learn(RatePipeline())

    run = Run.objects.latest("pk")
    listed = ", ".join(f"{rate:g}" for rate in LEARNING_RATES)
    diverged = (
        "Training diverged: the objective became NaN or infinite at every "
        f"learning rate ({listed}). Numeric attributes with extreme values cause "
        "this; bin or normalize them in the recipe (quantile_bin, normalize) or "
        "drop the outlying rows."
    )
    model = get_backend().client.get_ml_model(MLModelId=entity_ids(run)["model"])
    assert (model["Status"], model["Message"]) == ("FAILED", diverged)
    assert run.status == Run.Status.FAILED
    assert run.error == f"Step 'mlmodel' failed: {model['MLModelId']} says: {diverged}"
    assert not run.steps.filter(name__in=["evaluation", "endpoint"]).exists()
    assert not TrainedModel.objects.filter(run=run).exists()
    serving.check_unchanged()

    # The data caused it, so resuming fails the same way; fixed data trains.
    with pytest.raises(StepFailed, match="Training diverged"):
        resume(run)
    for pk in outliers:
        HotelBooking.objects.filter(pk=pk).update(historical_adr=rates[pk])
    fresh = learn(RatePipeline())

    assert fresh.status == Run.Status.SUCCEEDED
    assert fresh.trained_model.metric_value < fresh.baseline
    assert_one_set_of_entities_per_run(first, run, fresh)


# Processes -------------------------------------------------------------------


def manage(*arguments, **environment):
    """Run ``manage.py`` on this test's data; return the finished process."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=process_env("tests.process_settings", **environment),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", ["extract", "upload", "evaluation"])
def test_a_learn_killed_after_a_step_fails_and_resumes_without_duplicates(
    insured_rows, settings, step
):
    first = learn(site.get("health_insurance"))
    serving = Serving("health_insurance", RECORD)

    killed = manage("learn", "health_insurance", MLPIPELINE_TEST_KILL_AFTER=step)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run = Run.objects.latest("pk")
    done = run.steps.filter(status=RunStep.Status.SUCCEEDED)
    assert run.status == Run.Status.RUNNING
    assert list(done.values_list("name", flat=True))[-1] == step
    serving.check_unchanged()

    # The dead process no longer beats, so the next run takes its lock and
    # records why the killed run ended; it starts clean and succeeds.
    settings.MLPIPELINE_LOCK_TIMEOUT = 0
    fresh = learn(site.get("health_insurance"))
    run.refresh_from_db()

    assert fresh.status == Run.Status.SUCCEEDED
    assert run.status == Run.Status.FAILED
    assert re.fullmatch(
        r"Abandoned: its process \(.+:\d+\) stopped answering; resume it to "
        r"continue\.",
        run.error,
    ), run.error

    resumed = manage("learn", "--resume", str(run.pk))

    assert resumed.returncode == 0, resumed.stderr
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.rows_extracted == run.rows_train + run.rows_evaluation == 400
    assert_one_set_of_entities_per_run(first, run, fresh)
