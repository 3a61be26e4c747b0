import numpy as np
import pytest
import scipy.sparse as sp

from mlpipeline.engine.sgd import SGDTrainer
from mlpipeline.engine.spill import MemoryRows, SpilledRows


def _data(n=700, width=9, seed=5):
    rng = np.random.default_rng(seed)
    X = sp.random(n, width, density=0.3, random_state=seed, format="csr")
    X.data = np.round(X.data * 4) + 1
    y = rng.integers(0, 3, size=n)
    return X, y


def _spill(folder, X, y, shuffle, seed, bucket_rows, chunk):
    rows = SpilledRows(
        folder, X.shape[0], shuffle, seed, bucket_rows, target_dtype=np.int64
    )
    # Chunks see fewer columns than the whole matrix, as while encoding.
    for start in range(0, X.shape[0], chunk):
        part = X[start : start + chunk]
        width = part.indices.max() + 1 if part.nnz else 0
        rows.add(sp.csr_matrix(part[:, :width]), y[start : start + chunk])
    rows.finish(np.arange(X.shape[1]), X.shape[1])
    return rows


@pytest.mark.parametrize("shuffle", [True, False])
def test_spilled_rows_come_back_as_memory_rows_do(tmp_path, shuffle):
    X, y = _data()
    memory = MemoryRows(X, y, shuffle, seed=99, bucket_rows=128)
    spilled = _spill(tmp_path, X, y, shuffle, 99, bucket_rows=128, chunk=61)
    assert memory.n_buckets == spilled.n_buckets == 6
    pairs = zip(memory.buckets(), spilled.buckets(), strict=True)
    for (xa, ya), (xb, yb) in pairs:
        assert (xa != xb).nnz == 0 and np.array_equal(ya, yb)
    assert np.array_equal(memory.counts, spilled.counts)
    assert np.allclose(memory.sums, spilled.sums)


def test_bucket_order_is_a_seeded_permutation_of_every_row():
    X = sp.csr_matrix(np.arange(1, 1001, dtype=float)[:, None])
    y = np.arange(1000)
    rows = MemoryRows(X, y, shuffle=True, seed=7, bucket_rows=100)
    seen = np.concatenate([t for _, t in rows.buckets()])
    assert sorted(seen.tolist()) == list(range(1000))
    assert not np.array_equal(seen, y)
    again = np.concatenate([t for _, t in rows.buckets()])
    other = MemoryRows(X, y, shuffle=True, seed=8, bucket_rows=100)
    assert np.array_equal(seen, again)
    assert not np.array_equal(seen, np.concatenate([t for _, t in other.buckets()]))
    plain = MemoryRows(X, y, shuffle=False, seed=7, bucket_rows=100)
    assert np.array_equal(np.concatenate([t for _, t in plain.buckets()]), y)


def test_training_from_disk_equals_training_in_memory(tmp_path):
    X, y = _data()
    memory = SGDTrainer("softmax", l2=1e-4, max_passes=4)
    memory.fit_rows(MemoryRows(X, y, True, seed=3, bucket_rows=200), n_classes=3)
    spilled = _spill(tmp_path, X, y, True, 3, bucket_rows=200, chunk=97)
    again = SGDTrainer("softmax", l2=1e-4, max_passes=4)
    again.fit_rows(spilled, n_classes=3)
    assert np.array_equal(memory.coef_, again.coef_)
    assert memory.losses_ == again.losses_


def test_columns_are_renumbered_and_dropped(tmp_path):
    X = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]]))
    rows = SpilledRows(tmp_path, 2, shuffle=False, seed=0)
    rows.add(X, np.array([0.5, 1.5]))
    rows.finish(np.array([2, -1, 0]), 3)
    assert rows.counts.tolist() == [1, 0, 1]
    rows.keep(np.array([True, False, True]))
    [(matrix, targets)] = list(rows.buckets())
    assert matrix.toarray().tolist() == [[0.0, 1.0], [4.0, 0.0]]
    assert targets.tolist() == [0.5, 1.5]
