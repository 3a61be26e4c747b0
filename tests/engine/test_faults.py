"""Faults inside the engine: store failures, overflowing training, weights
files that are not plain arrays."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from mlpipeline.engine import DirectoryStore, Engine, EngineError
from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.sgd import SGDTrainer
from tests.engine.conftest import ATTRS, TRAIN, binary_rows, csv_bytes, schema_json

MODEL = dict(MLModelId="ml-1", MLModelType="BINARY", TrainingDataSourceId="ds-train")
WEIGHTS = "engine/mlmodels/files/ml-1.npz"


class FullDisk(DirectoryStore):
    """A directory store whose writes of one name fail while ``full``."""

    def __init__(self, root, failing):
        super().__init__(root)
        self.failing = failing
        self.full = True

    def write(self, name, data):
        if self.full and name == self.failing:
            raise OSError(28, "No space left on device", name)
        super().write(name, data)


@pytest.fixture
def full_disk(tmp_path):
    return FullDisk(tmp_path / "store", WEIGHTS)


@pytest.fixture
def trained(engine, data_source):
    data_source("ds-train", binary_rows(), ATTRS, "y", TRAIN)
    engine.create_ml_model(**MODEL)
    return engine


def test_a_job_failed_by_its_store_runs_again_when_created_again(full_disk):
    engine = Engine(full_disk)
    full_disk.write("uploads/ds.csv", csv_bytes(binary_rows()))
    engine.create_data_source_from_s3(
        DataSourceId="ds-train",
        DataSpec={
            "DataLocationS3": "uploads/ds.csv",
            "DataSchema": schema_json(ATTRS, "y"),
            "DataRearrangement": json.dumps(TRAIN),
        },
        ComputeStatistics=True,
    )
    engine.create_ml_model(**MODEL)
    failed = engine.get_ml_model(MLModelId="ml-1")
    full_disk.full = False

    engine.create_ml_model(**MODEL)

    assert (failed["Status"], failed["Message"]) == (
        "FAILED",
        "Internal error: OSError: [Errno 28] No space left on device: "
        "'engine/mlmodels/files/ml-1.npz'",
    )
    assert engine.get_ml_model(MLModelId="ml-1")["Status"] == "COMPLETED"
    assert engine.load_model("ml-1").predict({"x": "3", "c": "a"})["predictedLabel"]


def test_a_job_failed_by_its_data_stays_failed_when_created_again(engine, data_source):
    rows = [[1, "a", "yes"]] * 30
    data_source("ds-train", rows, ATTRS, "y", TRAIN)
    engine.create_ml_model(**MODEL)
    first = engine.get_ml_model(MLModelId="ml-1")

    engine.create_ml_model(**MODEL)

    again = engine.get_ml_model(MLModelId="ml-1")
    assert first["Status"] == again["Status"] == "FAILED"
    assert again["FinishedAt"] == first["FinishedAt"]
    assert again["Message"] == first["Message"]


def test_values_whose_squares_overflow_leave_the_correlation_undefined(
    engine, data_source
):
    rows = [[1e300 if i % 10 == 0 else i, "a", "yes" if i % 2 else "no"]
            for i in range(100)]  # fmt: skip

    found = data_source("ds-train", rows, ATTRS, "y", TRAIN)

    assert found["Status"] == "COMPLETED"
    assert found["Statistics"]["attributes"]["x"]["correlation"] is None


def test_overflowing_training_fails_with_a_message_naming_the_remedy():
    X = sp.csr_matrix(np.array([[1e300], [2e300], [1.0]]))

    with pytest.raises(JobFailedError) as failure:
        SGDTrainer("squared").fit(X, np.array([1.0, -1.0, 0.5]))

    assert str(failure.value) == (
        "Training diverged: the objective became NaN or infinite at every "
        "learning rate (0.01, 0.1, 1, 10, 100). Numeric attributes with extreme "
        "values cause this; bin or normalize them in the recipe (quantile_bin, "
        "normalize) or drop the outlying rows."
    )


class _OverflowingPenalty(SGDTrainer):
    """Let a weight that no row uses overflow, out of the objective's sight."""

    def _penalise(self, W, amount):
        W[1] = np.inf


def test_non_finite_weights_fail_training_even_with_a_finite_objective():
    # Feature 1 is present in no row, so the objective never multiplies it.
    X = sp.csr_matrix((np.ones(20), (np.arange(20), np.zeros(20))), shape=(20, 2))

    with pytest.raises(JobFailedError) as failure:
        _OverflowingPenalty("squared").fit(X, np.linspace(0, 1, 20))

    assert str(failure.value).startswith(
        "Training diverged: the weights became NaN or infinite at every learning "
        "rate (0.01, 0.1, 1, 10, 100)."
    )


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("weights", "reason"),
    [
        (
            _npz(coef=np.array([{"run": "os.system"}], dtype=object),
                 intercept=np.zeros(1)),
            "Object arrays cannot be loaded when allow_pickle=False",
        ),
        (
            pickle.dumps({"coef": np.zeros((3, 1)), "intercept": np.zeros(1)}),
            "This file contains pickled (object) data",
        ),
        (_npz(weights=np.zeros(3)), "'coef is not a file in the archive'"),
    ],
    ids=["object-array", "pickle", "other-arrays"],
)  # fmt: skip
def test_weights_that_need_unpickling_are_refused(trained, store, weights, reason):
    store.write(WEIGHTS, weights)

    with pytest.raises(EngineError) as refused:
        trained.load_model("ml-1")

    message = str(refused.value)
    assert message.startswith(
        "MLModel 'ml-1' cannot be loaded: the weights file is not a NumPy .npz "
        f"archive of the numeric arrays coef and intercept ({reason}"
    )
    assert message.endswith(
        "); the engine never loads pickled data, so train the model again."
    )


def test_weights_of_another_dtype_are_refused(trained, store):
    store.write(WEIGHTS, _npz(coef=np.array([["a"]]), intercept=np.zeros(1)))

    with pytest.raises(EngineError) as refused:
        trained.load_model("ml-1")

    assert str(refused.value) == (
        "MLModel 'ml-1' cannot be loaded: the weights file holds arrays of dtype "
        "<U1 and float64, not floats; train the model again."
    )
