import datetime

import pytest
from django.core import mail
from django.utils import timezone

from mlpipeline.models import PipelineState, Run
from mlpipeline.signals import run_failed
from mlpipeline.tasks import run_pipeline, scheduled_run
from mlpipeline.trigger import request_resume, request_run
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


@pytest.fixture
def table(insured_rows):
    return insured_rows


def test_a_request_queues_one_run_and_the_task_runs_it(
    table, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run, created = request_run(
            "health_insurance", trigger=Run.Trigger.ADMIN, requested_by="ada"
        )

    run.refresh_from_db()
    assert created
    assert (run.status, run.trigger, run.requested_by) == ("succeeded", "admin", "ada")


def test_a_request_during_a_run_is_skipped_and_recorded(table):
    first, _ = request_run("health_insurance", trigger=Run.Trigger.ADMIN)

    again, created = request_run(
        "health_insurance", trigger=Run.Trigger.ADMIN, requested_by="bob"
    )

    assert (again, created) == (first, False)
    assert Run.objects.count() == 1
    assert again.events[-1]["event"] == "duplicate trigger skipped"
    assert again.events[-1]["detail"] == "admin request by bob"


def test_the_same_schedule_slot_queues_one_run(table, settings):
    first = scheduled_run("health_insurance")
    Run.objects.filter(pk=first).update(status=Run.Status.SUCCEEDED)

    second = scheduled_run("health_insurance")

    assert first == second
    run = Run.objects.get()
    assert run.trigger == "schedule"
    assert run.trigger_key.startswith("schedule:health_insurance:")


def test_a_redelivered_message_for_a_finished_run_does_nothing(table):
    run, _ = request_run("health_insurance", trigger=Run.Trigger.TASK)
    assert run_pipeline(run.pk) == "succeeded"
    steps = list(Run.objects.get().steps.values_list("name", "finished_at"))

    assert run_pipeline(run.pk) == "succeeded"

    run.refresh_from_db()
    assert list(run.steps.values_list("name", "finished_at")) == steps
    assert run.events[-1]["event"] == "duplicate ignored"


def test_a_failure_mails_the_admins_and_sends_a_signal(db, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    received = []
    run_failed.connect(lambda **kw: received.append(kw["run"].pk), weak=False)
    try:
        run, _ = request_run("health_insurance", trigger=Run.Trigger.TASK)
        assert Insured.objects.count() == 0
        assert run_pipeline(run.pk) == "failed"
    finally:
        run_failed.receivers.clear()

    assert received == [run.pk]
    (message,) = mail.outbox
    assert (
        message.subject
        == f"[Django] mlpipeline: run {run.pk} of health_insurance failed"
    )
    assert "has no rows to learn from" in message.body
    assert "The serving model has not changed." in message.body


def test_resume_request_continues_the_run(table, django_capture_on_commit_callbacks):
    run, _ = request_run("health_insurance", trigger=Run.Trigger.TASK)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        request_resume(run, requested_by="ada")

    run.refresh_from_db()
    assert run.status == "succeeded"
    assert [e["event"] for e in run.events] == ["resume requested"]


def test_a_duplicate_message_for_a_failed_run_does_not_rerun_it(db):
    run, _ = request_run("health_insurance", trigger=Run.Trigger.TASK)
    assert run_pipeline(run.pk) == "failed"

    assert run_pipeline(run.pk) == "failed"

    run.refresh_from_db()
    assert run.events[-1] == {**run.events[-1], "event": "duplicate ignored"}
    assert run.steps.get(name="extract").status == "succeeded"


def test_a_run_whose_process_died_does_not_block_new_requests(table, settings):
    settings.MLPIPELINE_LOCK_TIMEOUT = 60
    dead = Run.objects.create(
        pipeline="health_insurance", backend="embedded", status="running"
    )
    PipelineState.objects.update_or_create(
        name="health_insurance",
        defaults={
            "locked_by": dead,
            "holder": "gone:1",
            "heartbeat_at": timezone.now() - datetime.timedelta(seconds=61),
        },
    )

    run, created = request_run("health_insurance", trigger=Run.Trigger.ADMIN)

    assert created
    assert run.pk != dead.pk
