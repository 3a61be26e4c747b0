import datetime
import time

import pytest
from django.utils import timezone

from mlpipeline import Pipeline, lock
from mlpipeline.learn import learn
from mlpipeline.models import PipelineState, Run
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


def new_run():
    return Run.objects.create(pipeline="insurance", backend="embedded")


def test_a_second_run_is_refused_while_the_first_holds_the_lock():
    first, second = new_run(), new_run()
    lock.acquire(first)

    with pytest.raises(lock.PipelineBusy, match=f"'insurance' is busy: run {first.pk}"):
        lock.acquire(second)

    lock.release(first)
    lock.acquire(second)
    assert PipelineState.objects.get(name="insurance").locked_by == second


def test_the_holder_may_take_its_own_lock_again():
    run = new_run()
    lock.acquire(run)

    lock.acquire(run)

    assert PipelineState.objects.get(name="insurance").locked_by == run


def test_a_silent_lock_is_taken_over_and_the_take_over_recorded(settings):
    settings.MLPIPELINE_LOCK_TIMEOUT = 60
    dead, alive = new_run(), new_run()
    lock.acquire(dead)
    PipelineState.objects.update(
        holder="dead-host:7",
        heartbeat_at=timezone.now() - datetime.timedelta(seconds=61),
    )

    lock.acquire(alive)

    assert PipelineState.objects.get().locked_by == alive
    (event,) = alive.events
    assert event["event"] == "lock taken over"
    assert event["detail"].startswith(
        f"took over the lock of run {dead.pk} (dead-host:7), silent since"
    )
    with pytest.raises(lock.LockLost, match=f"run {dead.pk} lost its lock"):
        lock.heartbeat(dead)


def test_a_fresh_heartbeat_keeps_the_lock(settings):
    settings.MLPIPELINE_LOCK_TIMEOUT = 60
    holder, other = new_run(), new_run()
    lock.acquire(holder)
    PipelineState.objects.update(
        heartbeat_at=timezone.now() - datetime.timedelta(seconds=59)
    )
    lock.heartbeat(holder)

    with pytest.raises(lock.PipelineBusy):
        lock.acquire(other)


def test_learn_while_busy_records_a_skipped_run(insured_rows):
    holder = new_run()
    lock.acquire(holder)

    with pytest.raises(lock.PipelineBusy):
        learn(InsurancePipeline())

    skipped = Run.objects.exclude(pk=holder.pk).get()
    assert skipped.status == Run.Status.SKIPPED
    assert skipped.error.startswith(
        f"Pipeline 'insurance' is busy: run {holder.pk} holds"
    )
    assert not skipped.steps.exists()


def test_the_lock_is_released_after_success_and_failure(insured_rows):
    learn(InsurancePipeline())
    Insured.objects.all().delete()
    with pytest.raises(Exception, match="no rows"):
        learn(InsurancePipeline())

    assert PipelineState.objects.get().locked_by is None


def test_the_same_run_in_another_live_process_is_refused():
    run = new_run()
    lock.acquire(run)
    PipelineState.objects.update(holder="other-host:4242")

    with pytest.raises(lock.PipelineBusy, match=f"run {run.pk} holds its lock"):
        lock.acquire(run)


def test_the_run_of_a_dead_process_is_taken_back_and_noted(settings):
    settings.MLPIPELINE_LOCK_TIMEOUT = 60
    run = new_run()
    lock.acquire(run)
    PipelineState.objects.update(
        holder="other-host:4242",
        heartbeat_at=timezone.now() - datetime.timedelta(seconds=61),
    )

    lock.acquire(run)

    assert run.events[-1]["event"] == "lock taken over"


def test_a_dead_run_left_running_is_marked_failed_when_its_lock_is_taken(settings):
    settings.MLPIPELINE_LOCK_TIMEOUT = 60
    dead, alive = new_run(), new_run()
    lock.acquire(dead)
    PipelineState.objects.update(
        holder="other-host:4242",
        heartbeat_at=timezone.now() - datetime.timedelta(seconds=61),
    )

    lock.acquire(alive)

    dead.refresh_from_db()
    assert dead.status == Run.Status.FAILED
    assert dead.error == (
        "Abandoned: its process (other-host:4242) stopped answering; resume it "
        "to continue."
    )


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_thread_keeps_the_lock_fresh_during_a_long_step(settings):
    settings.MLPIPELINE_LOCK_TIMEOUT = 0.4
    run = new_run()
    lock.acquire(run)
    before = PipelineState.objects.get().heartbeat_at

    with lock.Heartbeat(run):
        time.sleep(0.5)

    assert PipelineState.objects.get().heartbeat_at > before
    other = new_run()
    with pytest.raises(lock.PipelineBusy):
        lock.acquire(other)
