"""Encoded training rows that SGD passes read back one bucket at a time.

Training encodes its selection once. :class:`SpilledRows` writes the rows
to a temporary folder as they are encoded and reads them back a bucket
(about 65,536 rows) at a time, so memory depends on the number of features
and the bucket size, not on the number of rows; :class:`MemoryRows` holds
a matrix already in memory behind the same interface. Both give the same
rows in the same order, so a model does not depend on where its rows were
kept.

[ENGINE] rows are numbered from 0 in file order. With ``n`` rows there are
``K = ceil(n / 65536)`` buckets (at least one). Without shuffling, row
``i`` goes to bucket ``min(i // 65536, K - 1)``; with shuffling, to bucket
``splitmix64(i + seed) % K``, and the rows of bucket ``b`` are visited in
the order of a permutation drawn from ``numpy.random.default_rng([seed,
b])``. Buckets are visited in turn from 0. The result is one fixed
permutation of the rows, the same on every pass, determined by the seed
and the data.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mlpipeline.engine.features import remap_columns

__all__ = ["BUCKET_ROWS", "MemoryRows", "SpilledRows", "TrainingRows"]

BUCKET_ROWS = 1 << 16
_MASK64 = (1 << 64) - 1


def _mix(values: np.ndarray) -> np.ndarray:
    """Return the splitmix64 finaliser of unsigned 64-bit integers."""
    x = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _stack(parts: list[sp.csr_matrix], width: int) -> sp.csr_matrix:
    """Stack CSR matrices of different widths (columns only ever grow)."""
    offsets = np.cumsum([0] + [p.nnz for p in parts[:-1]])
    indptr = [parts[0].indptr[:1]] + [
        p.indptr[1:] + offset for p, offset in zip(parts, offsets, strict=True)
    ]
    return sp.csr_matrix(
        (
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.indices for p in parts]),
            np.concatenate(indptr),
        ),
        shape=(sum(p.shape[0] for p in parts), width),
    )


class TrainingRows:
    """Feature rows and targets, read a bucket at a time.

    Attributes
    ----------
    n_rows, n_features : int
        Shape of the whole matrix.
    counts, sums, squares : ndarray of shape (n_features,)
        Per column: rows holding it, and the sum of its values and of
        their squares.
    """

    n_rows: int
    n_features: int
    counts: np.ndarray
    sums: np.ndarray
    squares: np.ndarray
    #: Whether a trainer may keep what it derives from the rows in memory.
    cacheable: bool = False

    def __init__(self, n_rows: int, shuffle: bool, seed: int, bucket_rows: int):
        self.n_rows = n_rows
        self.shuffle = shuffle
        self.seed = seed & _MASK64
        self.bucket_rows = bucket_rows
        self.n_buckets = max(1, math.ceil(n_rows / bucket_rows))

    def buckets(
        self, ordered: bool = True
    ) -> Iterator[tuple[sp.csr_matrix, np.ndarray]]:
        """Yield ``(X, y)`` per bucket; ``ordered`` applies the permutation."""
        for bucket in range(self.n_buckets):
            X, y = self._bucket(bucket)
            if not X.shape[0]:
                continue
            if ordered and self.shuffle:
                rng = np.random.default_rng([self.seed, bucket])
                order = rng.permutation(X.shape[0])
                X, y = X[order], y[order]
            yield X, y

    def _assign(self, start: int, count: int) -> np.ndarray:
        """Return the bucket of rows ``start`` to ``start + count - 1``."""
        index = np.arange(start, start + count, dtype=np.uint64)
        if not self.shuffle:
            return np.minimum(index // np.uint64(self.bucket_rows), self.n_buckets - 1)
        with np.errstate(over="ignore"):
            mixed = _mix(index + np.uint64(self.seed))
        return (mixed % np.uint64(self.n_buckets)).astype(np.int64)

    def _bucket(self, bucket: int) -> tuple[sp.csr_matrix, np.ndarray]:
        raise NotImplementedError


class MemoryRows(TrainingRows):
    """Rows of a matrix already in memory.

    Parameters
    ----------
    X : sparse matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
    shuffle : bool
        Apply the bucket permutation of the module docstring.
    seed : int
        Its seed.
    bucket_rows : int, default 65536
        Rows per bucket.
    """

    cacheable = True

    def __init__(
        self,
        X: sp.spmatrix,
        y: np.ndarray,
        shuffle: bool,
        seed: int,
        bucket_rows: int = BUCKET_ROWS,
    ) -> None:
        X = sp.csr_matrix(X, dtype=float).sorted_indices()
        super().__init__(X.shape[0], shuffle, seed, bucket_rows)
        self.n_features = X.shape[1]
        self._X, self._y = X, np.asarray(y)
        self._of_row = self._assign(0, self.n_rows)
        width = self.n_features
        self.counts = np.bincount(X.indices, minlength=width)
        self.sums = np.bincount(X.indices, weights=X.data, minlength=width)
        with np.errstate(over="ignore"):
            squares = X.data**2
        self.squares = np.bincount(X.indices, weights=squares, minlength=width)

    def _bucket(self, bucket: int) -> tuple[sp.csr_matrix, np.ndarray]:
        if self.n_buckets == 1:
            return self._X, self._y
        rows = np.flatnonzero(self._of_row == bucket)
        return self._X[rows], self._y[rows]


class SpilledRows(TrainingRows):
    """Rows written to a folder as they are encoded, read back per bucket.

    Call :meth:`add` with each encoded chunk in row order, then
    :meth:`finish` once the final columns are known.

    Parameters
    ----------
    folder : path
        An empty folder that the caller removes afterwards.
    n_rows : int
        The number of rows that :meth:`add` will receive (it fixes the
        buckets).
    shuffle, seed, bucket_rows
        As for :class:`MemoryRows`.
    target_dtype : numpy dtype, default float64
        How targets are stored (integers for class indices).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        n_rows: int,
        shuffle: bool,
        seed: int,
        bucket_rows: int = BUCKET_ROWS,
        target_dtype: type = np.float64,
    ) -> None:
        super().__init__(n_rows, shuffle, seed, bucket_rows)
        self.folder = Path(folder)
        self.target_dtype = np.dtype(target_dtype)
        self.cacheable = self.n_buckets == 1
        self._added = 0
        self._width = 0
        self._stats = np.zeros((3, 0))
        self._pending: list[tuple[np.ndarray, sp.csr_matrix, np.ndarray]] = []
        self._pending_rows = 0
        self._remap = np.zeros(0, dtype=np.int64)

    def add(self, X: sp.csr_matrix, y: np.ndarray) -> None:
        """Append encoded rows (provisional columns) and their targets."""
        count = X.shape[0]
        if self._added + count > self.n_rows:
            raise ValueError(
                f"SpilledRows expected {self.n_rows} rows, got at least "
                f"{self._added + count}."
            )
        buckets = self._assign(self._added, count)
        self._added += count
        self._count(X)
        order = np.argsort(buckets, kind="stable")
        self._pending.append(
            (buckets[order], X[order], np.asarray(y, self.target_dtype)[order])
        )
        self._pending_rows += count
        if self._pending_rows >= self.bucket_rows:
            self._flush()

    def finish(self, remap: np.ndarray, n_features: int) -> None:
        """Fix the final columns: provisional column p becomes ``remap[p]``.

        Columns mapped to -1 are dropped.
        """
        if self._added != self.n_rows:
            raise ValueError(
                f"SpilledRows expected {self.n_rows} rows, got {self._added}."
            )
        self._flush()
        self._grow(len(remap))
        self._remap = np.asarray(remap, dtype=np.int64)
        self.n_features = n_features
        stats = np.zeros((3, n_features))
        used = self._remap >= 0
        stats[:, self._remap[used]] = self._stats[:, : len(remap)][:, used]
        self.counts = stats[0].astype(np.int64)
        self.sums, self.squares = stats[1], stats[2]

    def keep(self, mask: np.ndarray) -> None:
        """Drop the final columns where the boolean ``mask`` is false."""
        renumber = np.where(mask, np.cumsum(mask) - 1, -1)
        self._remap = np.where(self._remap >= 0, renumber[self._remap], -1)
        self.n_features = int(mask.sum())
        self.counts = self.counts[mask]
        self.sums, self.squares = self.sums[mask], self.squares[mask]

    def _count(self, X: sp.csr_matrix) -> None:
        self._grow(X.shape[1])
        width = self._width
        self._stats[0] += np.bincount(X.indices, minlength=width)
        self._stats[1] += np.bincount(X.indices, weights=X.data, minlength=width)
        with np.errstate(over="ignore"):
            squares = X.data**2
        self._stats[2] += np.bincount(X.indices, weights=squares, minlength=width)

    def _grow(self, width: int) -> None:
        if width > self._width:
            grown = np.zeros((3, width))
            grown[:, : self._width] = self._stats
            self._stats, self._width = grown, width

    def _path(self, bucket: int, part: str) -> Path:
        return self.folder / f"bucket-{bucket:05d}.{part}"

    def _flush(self) -> None:
        """Append the pending rows to their buckets' files."""
        if not self._pending:
            return
        buckets = np.concatenate([b for b, _, _ in self._pending])
        X = _stack([x for _, x, _ in self._pending], self._width)
        y = np.concatenate([t for _, _, t in self._pending])
        self._pending, self._pending_rows = [], 0
        order = np.argsort(buckets, kind="stable")
        buckets, X, y = buckets[order], X[order], y[order]
        bounds = np.searchsorted(buckets, np.arange(self.n_buckets + 1))
        for bucket in np.unique(buckets).tolist():
            start, stop = int(bounds[bucket]), int(bounds[bucket + 1])
            low, high = int(X.indptr[start]), int(X.indptr[stop])
            parts = {
                "lengths": np.diff(X.indptr[start : stop + 1]).astype(np.int32),
                "targets": y[start:stop],
                "columns": X.indices[low:high].astype(np.int32),
                "values": X.data[low:high].astype(np.float64),
            }
            for part, array in parts.items():
                with open(self._path(bucket, part), "ab") as handle:
                    handle.write(array.tobytes())

    def _bucket(self, bucket: int) -> tuple[sp.csr_matrix, np.ndarray]:
        if not self._path(bucket, "lengths").exists():
            return sp.csr_matrix((0, self.n_features)), np.zeros(0, self.target_dtype)
        lengths = np.fromfile(self._path(bucket, "lengths"), dtype=np.int32)
        y = np.fromfile(self._path(bucket, "targets"), dtype=self.target_dtype)
        columns = np.fromfile(self._path(bucket, "columns"), dtype=np.int32)
        values = np.fromfile(self._path(bucket, "values"), dtype=np.float64)
        indptr = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        X = sp.csr_matrix(
            (values, columns, indptr), shape=(len(lengths), len(self._remap))
        )
        return remap_columns(X, self._remap, self.n_features), y
