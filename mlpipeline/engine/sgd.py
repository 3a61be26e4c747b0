"""Linear models trained by stochastic gradient descent (spec §12, §19.18).

[ENGINE] rules, shaped on the training log AWS users published:

* Losses: logistic for BINARY, softmax (multinomial, one weight vector per
  class) for MULTICLASS, squared for REGRESSION. The objective is the mean
  loss over the training rows plus ``l1 * |w|_1`` or ``l2 / 2 * |w|^2``
  (the intercept is not penalised).
* Five learners run side by side with learning rates 0.01, 0.1, 1, 10 and
  100; the one with the lowest final finite objective wins, ties going to
  the smaller rate. The penalty counts: on separable data it keeps a large
  rate from winning merely by inflating its weights. A learner stops when
  its objective changes by less than ``tol`` (1e-6) between passes, and is
  dropped if it becomes non-finite.
* Frequent features (present in at least 5 % of the rows) are centred on
  their training mean inside the trainer, and the intercept absorbs the
  shift when training ends. Without this, features shared by most rows (a
  dominant category, a constant bin) all point the same way, and a batch
  step along that direction overshoots long before the others converge.
* Rates are relative to the data: a row's step is ``rate / R2``, where
  ``R2`` is the mean over rows of the squared (centred) feature norm plus
  one for the intercept. Rate 1 is then about the largest step that plain
  per-row SGD takes stably, whatever the number of features per row.
* Mini-batches: rows are visited in small consecutive batches (32 rows)
  rather than one at a time, because a Python loop per row would be far too
  slow. A batch step applies the *sum* of the per-row steps evaluated at the
  same weights, so rates keep their per-row meaning; only the weights of
  the features present in the batch, and of the centred features, change.
* The step of pass ``p`` (from 0) is divided by ``sqrt(1 + p)``, which
  damps the noise of the last passes without slowing the first ones much.
* Regularisation is applied once per pass as a proximal step equal to the
  total of that pass's per-row penalty steps: shrinking for L2,
  soft-thresholding for L1.
* Rows are read a bucket (about 65,536 rows) at a time, from memory or
  from the temporary files of :class:`~mlpipeline.engine.spill.SpilledRows`;
  mini-batches do not straddle buckets.
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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit

from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.spill import MemoryRows, TrainingRows

__all__ = ["LEARNING_RATES", "LOSSES", "SGDTrainer"]

logger = logging.getLogger(__name__)

LEARNING_RATES = (0.01, 0.1, 1.0, 10.0, 100.0)
LOSSES = ("logistic", "softmax", "squared")
CENTRED_FREQUENCY = 0.05
_OBJECTIVE_SCORES = 1 << 19


@dataclass
class _Centre:
    features: np.ndarray  # indices of the centred features
    means: np.ndarray  # their training means

    @classmethod
    def of(cls, rows: TrainingRows) -> _Centre:
        n_rows = max(rows.n_rows, 1)
        features = np.flatnonzero(rows.counts >= CENTRED_FREQUENCY * n_rows)
        return cls(features, rows.sums[features] / n_rows)

    def offset(self, W: np.ndarray) -> np.ndarray:
        """Return the score shift ``-means . W`` of every output column."""
        return -(self.means @ W[self.features])


@dataclass
class _Batch:
    columns: np.ndarray  # features present in the batch
    rows: sp.csr_matrix  # batch rows restricted to ``columns``
    rows_t: sp.csr_matrix  # its transpose, for the gradient
    target: np.ndarray


def _diverged(rates: tuple[float, ...], what: str) -> str:
    """Return the message of a training whose every learner diverged."""
    listed = ", ".join(f"{rate:g}" for rate in rates)
    return (
        f"Training diverged: {what} became NaN or infinite at every learning "
        f"rate ({listed}). Numeric attributes with extreme values cause this; "
        "bin or normalize them in the recipe (quantile_bin, normalize) or drop "
        "the outlying rows."
    )


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
    batch_size : int, default 32
        Rows per step.
    tol : float, default 1e-6
        A learner stops once its objective changes less than this.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_outputs)
        Weights of the chosen learner.
    intercept_ : ndarray of shape (n_outputs,)
        Its intercepts.
    learning_rate_ : float
        The chosen learner's rate.
    n_passes_ : int
        Passes the chosen learner ran.
    loss_ : float
        Its final objective.
    losses_ : dict
        Final objective per learning rate (``inf`` when it diverged).
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
        batch_size: int = 32,
        tol: float = 1e-6,
    ) -> None:
        self.loss = loss
        self.l1 = l1
        self.l2 = l2
        self.max_passes = max_passes
        self.shuffle = shuffle
        self.random_state = random_state
        self.learning_rates = learning_rates
        self.batch_size = batch_size
        self.tol = tol

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
        n_learners = len(self.learning_rates)

        centre = _Centre.of(rows)
        with np.errstate(all="ignore"):
            mean_square = float(rows.squares.sum()) / max(n_rows, 1)
            scale = mean_square - float(centre.means @ centre.means) + 1.0
        rates = np.repeat(np.asarray(self.learning_rates, dtype=float), n_out) / scale
        # Small data stays in memory between passes; spilled data is read
        # again on every pass.
        cache: list[list[_Batch]] | None = [] if rows.cacheable else None

        # Scores are (x - means) . W + c; ``c`` is the centred intercept.
        W = np.zeros((n_features, n_learners * n_out))
        c = np.zeros(n_learners * n_out)
        active = np.ones(n_learners, dtype=bool)
        passes = np.zeros(n_learners, dtype=int)
        previous = self._objective(rows, W, c + centre.offset(W), n_out)
        with np.errstate(all="ignore"):
            for p in range(self.max_passes):
                step = rates * np.repeat(active, n_out) / np.sqrt(1.0 + p)
                for batches in self._bucket_batches(rows, cache):
                    for batch in batches:
                        self._step(batch, centre, W, c, step, n_out)
                self._penalise(W, step * n_rows)
                passes[active] += 1
                current = self._objective(rows, W, c + centre.offset(W), n_out)
                dead = ~np.isfinite(current)
                # Zero diverged learners so overflow cannot spread or slow.
                W[:, np.repeat(dead, n_out)] = 0.0
                c[np.repeat(dead, n_out)] = 0.0
                settled = np.abs(previous - current) < self.tol
                active &= ~(dead | settled)
                previous = np.where(dead | ~np.isfinite(previous), np.inf, current)
                if not active.any():
                    break

        self.losses_ = dict(zip(self.learning_rates, previous.tolist(), strict=True))
        if not np.isfinite(previous).any():
            raise JobFailedError(_diverged(self.learning_rates, "the objective"))
        best = int(np.argmin(previous))
        cols = slice(best * n_out, (best + 1) * n_out)
        self.coef_ = W[:, cols].copy()
        self.intercept_ = (c + centre.offset(W))[cols].copy()
        if not (np.isfinite(self.coef_).all() and np.isfinite(self.intercept_).all()):
            # A finite objective with non-finite weights means overflow the
            # objective did not see; such a model would answer NaN.
            raise JobFailedError(_diverged(self.learning_rates, "the weights"))
        self.learning_rate_ = self.learning_rates[best]
        self.n_passes_ = int(passes[best])
        self.loss_ = float(previous[best])
        logger.debug("SGD objectives per learning rate: %s", self.losses_)
        return self

    def _bucket_batches(
        self, rows: TrainingRows, cache: list[list[_Batch]] | None
    ) -> Iterator[list[_Batch]]:
        """Yield each bucket's mini-batches in training order."""
        if cache:
            yield from cache
            return
        for X, y in rows.buckets():
            batches = self._batches(X, y)
            if cache is not None:
                cache.append(batches)
            yield batches

    def _batches(self, X: sp.csr_matrix, y: np.ndarray) -> list[_Batch]:
        batches = []
        for start in range(0, X.shape[0], self.batch_size):
            rows = X[start : start + self.batch_size]
            columns = np.unique(rows.indices)
            local = sp.csr_matrix(
                (rows.data, np.searchsorted(columns, rows.indices), rows.indptr),
                shape=(rows.shape[0], len(columns)),
            )
            target = y[start : start + self.batch_size]
            batches.append(_Batch(columns, local, local.T.tocsr(), target))
        return batches

    def _step(
        self,
        batch: _Batch,
        centre: _Centre,
        W: np.ndarray,
        c: np.ndarray,
        step: np.ndarray,
        n_out: int,
    ) -> None:
        weights = W[batch.columns]
        scores = batch.rows @ weights + (c + centre.offset(W))
        grad = self._gradient(scores, batch.target, n_out)
        total = grad.sum(axis=0)
        W[batch.columns] = weights - (batch.rows_t @ grad) * step
        W[centre.features] += np.outer(centre.means, total * step)
        c -= total * step

    def _gradient(self, scores: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
        """Return d(loss)/d(score) per row and output column.

        ``scores`` may be overwritten.
        """
        if self.loss == "logistic":
            return expit(scores) - y[:, None]
        if self.loss == "squared":
            return scores - y[:, None]
        # Softmax worked in place: the scores are the caller's own.
        n = len(y)
        z = scores.reshape(n, -1, n_out)
        z -= z.max(axis=2, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=2, keepdims=True)
        z[np.arange(n), :, y] -= 1.0
        return scores

    def _penalise(self, W: np.ndarray, amount: np.ndarray) -> None:
        if self.l2 > 0:
            W *= np.maximum(0.0, 1.0 - amount * self.l2)
        if self.l1 > 0:
            np.copyto(W, np.sign(W) * np.maximum(np.abs(W) - amount * self.l1, 0.0))

    def _objective(
        self,
        rows: TrainingRows,
        W: np.ndarray,
        b: np.ndarray,
        n_out: int,
    ) -> np.ndarray:
        """Return the objective of every learner, shape (n_learners,).

        Rows are scored in chunks of at most 4,096 rows and 2**19 scores,
        so the temporaries of the loss stay a few MB whatever the number of
        learners and classes.
        """
        n_learners = W.shape[1] // n_out
        chunk = max(64, min(4096, _OBJECTIVE_SCORES // W.shape[1]))
        total = np.zeros(n_learners)
        with np.errstate(all="ignore"):
            for X, y in rows.buckets(ordered=False):
                for start in range(0, X.shape[0], chunk):
                    scores = X[start : start + chunk] @ W + b
                    total += self._loss_sum(scores, y[start : start + chunk], n_out)
            total /= max(rows.n_rows, 1)
            per_learner = W.reshape(-1, n_learners, n_out)
            if self.l2 > 0:
                total += 0.5 * self.l2 * (per_learner**2).sum(axis=(0, 2))
            if self.l1 > 0:
                total += self.l1 * np.abs(per_learner).sum(axis=(0, 2))
        return total

    def _loss_sum(self, scores: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
        """Return the loss summed over rows per output column of a learner.

        ``scores`` may be overwritten.
        """
        if self.loss == "logistic":
            positive = y[:, None] == 1
            losses = -np.where(positive, log_expit(scores), log_expit(-scores))
            return losses.sum(axis=0)
        if self.loss == "squared":
            return 0.5 * ((scores - y[:, None]) ** 2).sum(axis=0)
        # log(sum(exp(z))) as log(sum(exp(z - max))) + max, worked in place
        # on the caller's fresh scores: scipy's logsumexp makes several
        # copies of them and took half of each objective's time.
        n = len(y)
        z = scores.reshape(n, -1, n_out)
        picked = z[np.arange(n), :, y]
        top = z.max(axis=2, keepdims=True)
        np.subtract(z, top, out=z)
        np.exp(z, out=z)
        losses = np.log(z.sum(axis=2)) + top[:, :, 0] - picked
        return losses.sum(axis=0)
