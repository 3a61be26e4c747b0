"""Linear models trained by stochastic gradient descent (spec §12, §19.18).

[ENGINE] rules, shaped on the training log AWS users published:

* Losses: logistic for BINARY, softmax (multinomial, one weight vector per
  class) for MULTICLASS, squared for REGRESSION. The objective is the mean
  loss over the training rows plus ``l1 * |w|_1`` or ``l2 / 2 * |w|^2``
  (the intercept is not penalised).
* Five learners run side by side with learning rates 0.01, 0.1, 1, 10 and
  100; the one whose final weights have the lowest finite objective wins,
  ties going to the smaller rate. That objective is computed exactly, in
  one read of the rows after the last pass, so it judges the weights the
  model will keep, after the last penalty step. The penalty counts: on
  separable data it keeps a large rate from winning merely by inflating
  its weights. A learner stops when its pass objective (below) changes by
  less than ``tol`` (1e-6) between passes (before the first pass it is the
  objective of the zero weights), and is dropped as soon as a row's loss
  or gradient becomes non-finite.
* Per-example updates: every row takes its own step, at the weights left
  by the row before, for each learner. The loop is compiled with numba
  (:mod:`._sgd_pass`); only the weights of the row's features, the
  intercepts and one accumulator per output change, so a step costs the
  row's nonzeros times the outputs. Learners share nothing but the rows:
  a caller may split them between threads, and the result does not depend
  on the number of threads.
* The objective of a pass, which stops a learner, is its progressive
  loss: the mean over the rows of each row's loss taken just before that
  row's step, plus the penalty of the weights at the end of the pass. It
  is summed during the pass, so stopping needs no extra read of the data
  (that read cost about 30 % of a pass). It is not what chooses the
  winner: it scores the weights as they were during the pass, before the
  pass's penalty step, so a rate whose penalty step shrinks its weights
  away (a large rate with a large L2 amount) looked best by it while
  predicting nothing.
* Frequent features (present in at least 5 % of the rows) are centred on
  their training mean inside the trainer, and the intercept absorbs the
  shift when training ends. Features shared by most rows (a dominant
  category, a constant bin) otherwise all point the same way; on the demo
  data sets centring kept the macro F1 of the 10-class customer types at
  0.80 (0.79 without) and moved the others by less than 0.004. Centring
  is lazy: a step adds ``step * gradient`` to one accumulator per output,
  and each centred feature's weight is its stored part plus its mean times
  that accumulator, settled into the weights at the end of every pass; a
  row thus never updates every centred feature.
* Rates are relative to the data: a row's step is ``rate / R2``, where
  ``R2`` is the mean over rows of the squared (centred) feature norm plus
  one for the intercept. Rate 1 is then about the largest step that plain
  per-row SGD takes stably, whatever the number of features per row. When
  ``R2`` overflows, every learner has diverged.
* The step of pass ``p`` (from 0) is divided by ``sqrt(1 + p)``, which
  damps the noise of the last passes without slowing the first ones much.
* Regularisation is applied once per pass, as the compound of that pass's
  per-row penalty steps: L2 multiplies the weights by
  ``exp(-l2 * total step)``, the limit of ``(1 - l2 * step)`` taken once
  per row, which never reaches zero however large the steps (a factor
  ``max(0, 1 - l2 * total step)`` wiped out every weight of a fast learner
  once its pass's steps added up past ``1 / l2``); L1 soft-thresholds them
  by ``l1 * total step``.
* Rows are read a bucket (about 65,536 rows) at a time, from memory or
  from the temporary files of :class:`~mlpipeline.engine.spill.SpilledRows`;
  memory holds one bucket and the weights, whatever the number of rows.
* When shuffling, the rows are permuted once before the first pass, and
  every pass visits them in that order. The permutation is built so that
  it never needs all the rows at once: each row number goes to one of
  ``K = ceil(n_rows / 65536)`` buckets by a seeded 64-bit hash
  (``splitmix64(row + random_state) % K``), buckets are visited in turn,
  and the rows of bucket ``b`` in the order of a permutation drawn from a
  generator seeded with ``(random_state, b)`` when the bucket is read. The
  rows keep that order whether they sit in memory or on disk; results are
  deterministic for the same seed and data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp

from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.spill import MemoryRows, TrainingRows

__all__ = ["LEARNING_RATES", "LOSSES", "SGDTrainer"]

logger = logging.getLogger(__name__)

LEARNING_RATES = (0.01, 0.1, 1.0, 10.0, 100.0)
LOSSES = ("logistic", "softmax", "squared")
CENTRED_FREQUENCY = 0.05
_OBJECTIVE_SCORES = 1 << 19

#: One bucket as the compiled pass reads it: indptr, indices, data, targets.
_Bucket = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _diverged(rates: tuple[float, ...], what: str) -> str:
    """Return the message of a training whose every learner diverged."""
    listed = ", ".join(f"{rate:g}" for rate in rates)
    return (
        f"Training diverged: {what} became NaN or infinite at every learning "
        f"rate ({listed}). Numeric attributes with extreme values cause this; "
        "bin or normalize them in the recipe (quantile_bin, normalize) or drop "
        "the outlying rows."
    )


def _zero_weight_loss(loss: str, y: np.ndarray, n_out: int) -> float:
    """Return the loss summed over ``y`` of scores that are all 0."""
    if loss == "squared":
        return 0.5 * float(np.dot(y, y))
    return len(y) * float(np.log(n_out if loss == "softmax" else 2.0))


class SGDTrainer:
    """Fit a linear model with several learning rates and keep the best.

    Parameters
    ----------
    loss : {"logistic", "softmax", "squared"}
        Loss to minimise.
    l1, l2 : float, default 0.0
        Penalty amounts; at most one may be positive.
    max_passes : int, default 10
        Maximum number of passes over the data.
    shuffle : bool, default True
        Permute the rows once before training.
    random_state : int, default 0
        Seed of the permutation.
    learning_rates : tuple of float, default (0.01, 0.1, 1, 10, 100)
        Candidate rates, one learner each.
    tol : float, default 1e-6
        A learner stops once its objective changes less than this.
    threads : int or None, default 1
        Threads that train learners at the same time (each learner stays
        on one thread for a pass, so results do not depend on it); None
        uses the processors this process may run on, up to the number of
        learners. Threads wait for each other after every bucket, so they
        help only on processors that are otherwise idle: on a busy
        two-core machine two threads were up to 1.5 times slower than one.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_outputs)
        Weights of the chosen learner.
    intercept_ : ndarray of shape (n_outputs,)
        Its intercepts.
    learning_rate_ : float
        The chosen learner's rate.
    threads_ : int
        Threads the learners trained on.
    n_passes_ : int
        Passes the chosen learner ran.
    loss_ : float
        Its final objective: the mean loss of its final weights over the
        training rows plus their penalty.
    losses_ : dict
        Final objective per learning rate (``inf`` when it diverged).
    progressive_losses_ : dict
        Last pass objective per learning rate (the progressive loss plus
        the penalty, ``inf`` when it diverged), which stopped the learners.
    """

    def __init__(
        self,
        loss: str,
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        max_passes: int = 10,
        shuffle: bool = True,
        random_state: int = 0,
        learning_rates: tuple[float, ...] = LEARNING_RATES,
        tol: float = 1e-6,
        threads: int | None = 1,
    ) -> None:
        self.loss = loss
        self.l1 = l1
        self.l2 = l2
        self.max_passes = max_passes
        self.shuffle = shuffle
        self.random_state = random_state
        self.learning_rates = learning_rates
        self.tol = tol
        self.threads = threads

    def fit(self, X: sp.spmatrix, y: np.ndarray, n_classes: int = 0) -> SGDTrainer:
        """Train every learner on ``X`` and ``y``; keep the best.

        Parameters
        ----------
        X : sparse matrix of shape (n_rows, n_features)
            Feature rows, without an intercept column.
        y : ndarray of shape (n_rows,)
            0/1 for logistic, class indices for softmax, reals for squared.
        n_classes : int
            Number of classes; required for softmax.

        Returns
        -------
        SGDTrainer
            ``self``, fitted.

        Raises
        ------
        JobFailedError
            If every learner diverged.
        """
        X = sp.csr_matrix(X, dtype=float)
        rows = MemoryRows(X, y, shuffle=self.shuffle, seed=self.random_state)
        return self.fit_rows(rows, n_classes)

    def fit_rows(self, rows: TrainingRows, n_classes: int = 0) -> SGDTrainer:
        """Train every learner on rows read a bucket at a time; keep the best.

        The rows come in their own order: ``shuffle`` and ``random_state``
        were applied when ``rows`` was built (see :mod:`.spill`).

        Parameters
        ----------
        rows : TrainingRows
            Feature rows and targets (as for :meth:`fit`).
        n_classes : int
            Number of classes; required for softmax.

        Returns
        -------
        SGDTrainer
            ``self``, fitted.

        Raises
        ------
        JobFailedError
            If every learner diverged.
        """
        if self.loss not in LOSSES:
            raise ValueError(f"Unknown loss {self.loss!r}; use one of {LOSSES}.")
        if self.loss == "softmax" and n_classes < 2:
            raise ValueError(f"Softmax needs n_classes >= 2, got {n_classes}.")
        n_rows, n_features = rows.n_rows, rows.n_features
        n_out = n_classes if self.loss == "softmax" else 1
        rates = np.asarray(self.learning_rates, dtype=float)
        n_learners = len(rates)

        # Centred features: ``means`` is 0 for the others (see _sgd_pass).
        centred = np.flatnonzero(rows.counts >= CENTRED_FREQUENCY * max(n_rows, 1))
        means = np.zeros(n_features)
        means[centred] = rows.sums[centred] / max(n_rows, 1)
        with np.errstate(all="ignore"):
            mean_square = float(means @ means)
            scale = float(rows.squares.sum()) / max(n_rows, 1) - mean_square + 1.0
        if not np.isfinite(scale):
            # Squares that overflow leave no step size to take.
            self.losses_ = dict.fromkeys(self.learning_rates, float("inf"))
            raise JobFailedError(_diverged(self.learning_rates, "the objective"))
        # Small data stays in memory between passes; spilled data is read
        # again on every pass.
        cache: list[_Bucket] | None = [] if rows.cacheable else None

        V = np.zeros((n_features, n_learners * n_out))
        c = np.zeros(n_learners * n_out)
        A = np.zeros(n_learners * n_out)
        S = np.zeros(n_learners * n_out)
        active = np.ones(n_learners, dtype=bool)
        passes = np.zeros(n_learners, dtype=int)
        previous = np.zeros(n_learners)
        # numba (~60 MB) loads only when something trains, not in every
        # process that imports the engine to predict.
        from mlpipeline.engine._sgd_pass import CODES, sgd_bucket

        code = CODES[self.loss]
        threads = self.threads_ = self._thread_count(n_learners)
        pooled = ThreadPoolExecutor(threads) if threads > 1 else nullcontext()
        with pooled as pool, np.errstate(all="ignore"):
            for p in range(self.max_passes):
                step = rates / scale / np.sqrt(1.0 + p)
                groups = self._groups(active, threads)
                totals = np.zeros(n_learners)
                for indptr, indices, data, y in self._buckets(rows, cache, n_out):
                    if p == 0:
                        previous += _zero_weight_loss(self.loss, y, n_out)
                    arguments = [
                        (indptr, indices, data, y, V, c, A, S, means,
                         mean_square, step, group, code, n_out, totals)
                        for group in groups
                    ]  # fmt: skip
                    if pool is None:
                        sgd_bucket(*arguments[0])
                    else:
                        # Every group owns its learners' columns (see
                        # sgd_bucket), so the threads never write alike.
                        calls = [pool.submit(sgd_bucket, *a) for a in arguments]
                        for call in calls:
                            call.result()
                if p == 0:
                    previous /= max(n_rows, 1)
                # Settle the centred features' lazy updates, then penalise.
                V[centred] += np.outer(means[centred], A)
                A[:] = 0.0
                self._penalise(V, np.repeat(step * active * n_rows, n_out))
                passes[active] += 1
                current = totals / max(n_rows, 1) + self._penalty(V, n_learners, n_out)
                current = np.where(active, current, previous)
                dead = ~np.isfinite(current)
                # Zero diverged learners so overflow cannot spread or slow.
                V[:, np.repeat(dead, n_out)] = 0.0
                c[np.repeat(dead, n_out)] = 0.0
                S[:] = means[centred] @ V[centred]
                settled = np.abs(previous - current) < self.tol
                active &= ~(dead | settled)
                previous = np.where(dead | ~np.isfinite(previous), np.inf, current)
                if not active.any():
                    break

        self.progressive_losses_ = dict(
            zip(self.learning_rates, previous.tolist(), strict=True)
        )
        if not np.isfinite(previous).any():
            self.losses_ = self.progressive_losses_
            raise JobFailedError(_diverged(self.learning_rates, "the objective"))
        final = self._objective(rows, V, c - S, n_out)
        final[~np.isfinite(previous)] = np.inf
        self.losses_ = dict(zip(self.learning_rates, final.tolist(), strict=True))
        if not np.isfinite(final).any():
            raise JobFailedError(_diverged(self.learning_rates, "the objective"))
        best = int(np.argmin(final))
        cols = slice(best * n_out, (best + 1) * n_out)
        self.coef_ = V[:, cols].copy()
        self.intercept_ = (c - S)[cols].copy()
        if not (np.isfinite(self.coef_).all() and np.isfinite(self.intercept_).all()):
            # A finite objective with non-finite weights means overflow the
            # objective did not see; such a model would answer NaN.
            raise JobFailedError(_diverged(self.learning_rates, "the weights"))
        self.learning_rate_ = self.learning_rates[best]
        self.n_passes_ = int(passes[best])
        self.loss_ = float(final[best])
        logger.debug("SGD objectives per learning rate: %s", self.losses_)
        return self

    def _thread_count(self, n_learners: int) -> int:
        if self.threads is not None:
            if self.threads < 1:
                raise ValueError(f"threads must be at least 1, got {self.threads}.")
            return min(self.threads, n_learners)
        if hasattr(os, "sched_getaffinity"):
            processors = len(os.sched_getaffinity(0))
        else:  # macOS and Windows tell only how many the machine has
            processors = os.cpu_count() or 1
        return max(1, min(processors, n_learners))

    @staticmethod
    def _groups(active: np.ndarray, n_groups: int) -> list[np.ndarray]:
        """Split the active learners into runs of neighbours, one per thread.

        Neighbouring learners' weights are neighbours in memory; runs keep
        the threads' writes apart (a cache line shared by two threads
        slows both).
        """
        ranks = np.cumsum(active) - 1
        group = ranks * n_groups // max(int(active.sum()), 1)
        return [active & (group == g) for g in range(n_groups)]

    def _buckets(
        self, rows: TrainingRows, cache: list[_Bucket] | None, n_out: int
    ) -> Iterator[_Bucket]:
        """Yield the buckets in training order, as the compiled pass reads.

        Softmax targets must be class indices below ``n_out``: the compiled
        loop indexes with them unchecked.
        """
        if cache:
            yield from cache
            return
        for X, y in rows.buckets():
            if self.loss == "softmax" and len(y):
                classes = np.asarray(y)
                wrong = (classes < 0) | (classes >= n_out) | (classes % 1 != 0)
                if wrong.any():
                    raise ValueError(
                        f"Softmax targets must be class indices 0 to {n_out - 1}, "
                        f"got {classes[wrong][0].item()!r}."
                    )
            bucket = (
                np.ascontiguousarray(X.indptr, dtype=np.int64),
                np.ascontiguousarray(X.indices, dtype=np.int32),
                np.ascontiguousarray(X.data, dtype=np.float64),
                np.ascontiguousarray(y, dtype=np.float64),
            )
            if cache is not None:
                cache.append(bucket)
            yield bucket

    def _penalise(self, W: np.ndarray, amount: np.ndarray) -> None:
        if self.l2 > 0:
            W *= np.exp(-amount * self.l2)
        if self.l1 > 0:
            np.copyto(W, np.sign(W) * np.maximum(np.abs(W) - amount * self.l1, 0.0))

    def _objective(
        self, rows: TrainingRows, W: np.ndarray, b: np.ndarray, n_out: int
    ) -> np.ndarray:
        """Return every learner's objective at weights ``W`` and ``b``.

        One read of the rows, scored in chunks of at most 4,096 rows and
        2**19 scores so the temporaries stay a few MB whatever the number
        of learners and classes. Shape (n_learners,).
        """
        n_learners = W.shape[1] // n_out
        chunk = max(64, min(4096, _OBJECTIVE_SCORES // W.shape[1]))
        total = np.zeros(n_learners)
        with np.errstate(all="ignore"):
            for X, y in rows.buckets(ordered=False):
                for start in range(0, X.shape[0], chunk):
                    scores = X[start : start + chunk] @ W + b
                    total += self._loss_sum(scores, y[start : start + chunk], n_out)
            return total / max(rows.n_rows, 1) + self._penalty(W, n_learners, n_out)

    def _loss_sum(self, scores: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
        """Return each learner's loss summed over the rows of ``scores``.

        ``scores`` (rows by learners times outputs) is overwritten.
        """
        n = len(y)
        z = scores.reshape(n, -1, n_out)
        if self.loss == "squared":
            return 0.5 * ((z[:, :, 0] - y[:, None]) ** 2).sum(axis=0)
        if self.loss == "logistic":
            signed = np.where(y[:, None] == 1, -z[:, :, 0], z[:, :, 0])
            return np.logaddexp(0.0, signed).sum(axis=0)
        # log(sum(exp(z))) as log(sum(exp(z - max))) + max, in place.
        picked = z[np.arange(n), :, y.astype(np.intp)]
        top = z.max(axis=2, keepdims=True)
        np.subtract(z, top, out=z)
        np.exp(z, out=z)
        return (np.log(z.sum(axis=2)) + top[:, :, 0] - picked).sum(axis=0)

    def _penalty(self, W: np.ndarray, n_learners: int, n_out: int) -> np.ndarray:
        """Return each learner's penalty, shape (n_learners,)."""
        per_learner = W.reshape(W.shape[0], n_learners, n_out)
        total = np.zeros(n_learners)
        if self.l2 > 0:
            total += 0.5 * self.l2 * (per_learner**2).sum(axis=(0, 2))
        if self.l1 > 0:
            total += self.l1 * np.abs(per_learner).sum(axis=(0, 2))
        return total
