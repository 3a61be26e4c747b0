import datetime

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
        heartbeat_at=timezone.now() - datetime.timedelta(seconds=61)
    )

    lock.acquire(alive)

    assert PipelineState.objects.get().locked_by == alive
    (event,) = alive.events
    assert event["event"] == "lock taken over"
    assert event["detail"].startswith(f"took over the lock of run {dead.pk} (")
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
