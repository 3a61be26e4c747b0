"""A real Celery worker on a real Redis broker runs, dedupes and resumes runs.

Each test starts ``celery worker`` as a separate process on the test
database (a file for SQLite, the test database on PostgreSQL), with Redis
on 127.0.0.1:6379 (database 15, emptied first; MLPIPELINE_TEST_BROKER names
another) as the broker.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from django.core.files.storage import default_storage

from mlpipeline.models import Run, RunStep
from mlpipeline.tasks import run_pipeline
from mlpipeline.trigger import request_run
from project.celery import app
from tests.processes import ROOT, process_env

# Another Redis database can be named for parallel runs of the suite.
BROKER = os.environ.get("MLPIPELINE_TEST_BROKER", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker():
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    conf = app.conf
    saved = conf.broker_url, conf.task_always_eager, conf.broker_transport_options
    conf.broker_url = BROKER
    conf.task_always_eager = False
    conf.broker_transport_options = {"visibility_timeout": 5}
    forget_connections()
    yield client
    conf.broker_url, conf.task_always_eager, conf.broker_transport_options = saved
    forget_connections()
    client.flushdb()


def forget_connections():
    """Drop the app's cached connections, made for the broker set before."""
    app.close()
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def start_worker(broker, files, tmp_path):
    """Start workers on the test database; stop them after the test."""
    workers = []

    def start(name):
        env = process_env(
            "tests.worker_settings",
            CELERY_BROKER_URL=BROKER,
            CELERY_VISIBILITY_TIMEOUT="5",
        )
        log = open(tmp_path / f"{name}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "project", "worker",
             "--pool", "solo", "--hostname", f"{name}@test", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        workers.append((process, log))
        return process

    yield start
    for process, log in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def wait_for(condition, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")


def finished(run):
    run.refresh_from_db()
    return run.status not in Run.ACTIVE


def entity_count(folder):
    names = default_storage.listdir(f"engine/{folder}")[1]
    return len([n for n in names if n.endswith(".json") and n.count(".") == 1])


def test_a_queued_run_completes_on_the_worker(start_worker, insured_rows):
    start_worker("first")

    run, created = request_run("health_insurance", trigger=Run.Trigger.ADMIN)

    assert created
    wait_for(lambda: finished(run), what="the run to finish")
    assert run.status == Run.Status.SUCCEEDED
    assert run.rows_train + run.rows_evaluation == 400


def test_the_same_message_delivered_twice_makes_one_run(start_worker, insured_rows):
    run, _ = request_run("health_insurance", trigger=Run.Trigger.TASK)
    # The request sent one message; send the same one again, as a broker
    # redelivering it would.
    run_pipeline.apply_async(args=[run.pk])
    start_worker("first")

    wait_for(
        lambda: (
            finished(run) and any(e["event"] == "duplicate ignored" for e in run.events)
        ),
        what="both deliveries to be handled",
    )
    assert run.status == Run.Status.SUCCEEDED
    assert Run.objects.count() == 1
    assert entity_count("mlmodels") == 1
    assert entity_count("datasources") == 2


def test_a_killed_worker_leaves_a_run_that_resumes_without_duplicates(
    start_worker, insured_rows
):
    first = start_worker("first")
    run, _ = request_run("health_insurance", trigger=Run.Trigger.TASK)
    wait_for(
        lambda: RunStep.objects.filter(
            run=run, name="model", status="running"
        ).exists(),
        what="the model step to start",
    )

    first.kill()
    first.wait()
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    start_worker("second")

    wait_for(lambda: finished(run), timeout=180, what="the run to resume and finish")
    assert run.status == Run.Status.SUCCEEDED
    events = [e["event"] for e in run.events]
    # The dead worker held the lock for this same run, which takes it back;
    # the model it was training is reused or, if unfinished, rerun.
    assert {"reused", "resubmitted"} & set(events)
    assert entity_count("datasources") == 2
    assert entity_count("mlmodels") == 1
    assert entity_count("evaluations") == 1
