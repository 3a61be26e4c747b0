"""A job left running by a process that died is run again, not waited for."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlpipeline.engine import InvalidInputException
from mlpipeline.engine.owner import current_owner, is_orphaned, running

from .conftest import ATTRS, TRAIN, binary_rows

MODEL = "engine/mlmodels/ml-1.json"


@pytest.fixture
def dead_owner():
    """Return the owner record of a process that has ended."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {**current_owner(), "pid": int(child.stdout), "started": None}


def test_owner_of_a_live_process_is_not_orphaned(dead_owner):
    assert not is_orphaned(current_owner())
    assert is_orphaned(dead_owner)
    assert not is_orphaned({**dead_owner, "host": "another-host"})
    assert not is_orphaned(None)


def test_an_orphaned_model_is_trained_again_when_created_again(
    engine, store, data_source, dead_owner
):
    data_source("ds-train", binary_rows(), ATTRS, "y", TRAIN)
    request = dict(
        MLModelId="ml-1", MLModelType="BINARY", TrainingDataSourceId="ds-train"
    )
    engine.create_ml_model(**request)
    document = json.loads(store.open(MODEL).read())
    document["api"]["Status"] = "INPROGRESS"
    document["owner"] = dead_owner
    store.write(MODEL, json.dumps(document).encode())

    engine.create_ml_model(**request)

    model = engine.get_ml_model(MLModelId="ml-1")
    assert model["Status"] == "COMPLETED"
    assert "owner" not in json.loads(store.open(MODEL).read())


@pytest.mark.parametrize(
    ("running_here", "status"),
    [(True, "INPROGRESS"), (False, "COMPLETED")],
    ids=["live-job-not-started-twice", "job-given-up-is-run-again"],
)
def test_a_job_of_this_process_reruns_only_once_it_no_longer_runs(
    engine, store, data_source, running_here, status
):
    # Without the job running, this is what a store that refused the job's
    # last document leaves: INPROGRESS, owned by a live process.
    data_source("ds-train", binary_rows(), ATTRS, "y", TRAIN)
    request = dict(
        MLModelId="ml-1", MLModelType="BINARY", TrainingDataSourceId="ds-train"
    )
    engine.create_ml_model(**request)
    document = json.loads(store.open(MODEL).read())
    document["api"]["Status"] = "INPROGRESS"
    document["owner"] = current_owner()
    store.write(MODEL, json.dumps(document).encode())

    if running_here:
        # Another thread of this process is training it.
        with running("mlmodel", "ml-1"):
            engine.create_ml_model(**request)
    else:
        engine.create_ml_model(**request)

    assert engine.get_ml_model(MLModelId="ml-1")["Status"] == status


def test_a_dependency_left_by_a_dead_process_fails_the_dependent(
    engine, store, data_source, dead_owner
):
    data_source("ds-train", binary_rows(), ATTRS, "y", TRAIN)
    name = "engine/datasources/ds-train.json"
    document = json.loads(store.open(name).read())
    document["api"]["Status"] = "INPROGRESS"
    document["owner"] = dead_owner
    store.write(name, json.dumps(document).encode())

    try:
        engine.create_ml_model(
            MLModelId="ml-2", MLModelType="BINARY", TrainingDataSourceId="ds-train"
        )
    except InvalidInputException:
        pytest.fail("a running dependency is waited for, not refused")

    model = engine.get_ml_model(MLModelId="ml-2")
    assert model["Status"] == "FAILED"
    assert model["Message"] == (
        "DataSource 'ds-train' was left INPROGRESS by a process that ended or "
        "gave it up; create it again to rerun it."
    )
