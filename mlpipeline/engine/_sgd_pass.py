"""The compiled per-row loop of :mod:`.sgd`: one pass over one bucket.

numba compiles :func:`sgd_bucket` on first use and caches the machine code
(next to this file, or in the user's cache folder where this one is
read-only), so the engine needs no build step. Everything here works
on plain arrays; the rules it implements are documented in :mod:`.sgd`.

Weights are kept in the lazily centred form described there: the true
weight of feature ``j`` for output column ``o`` is
``V[j, o] + means[j] * A[o]``, and ``S[o] = sum_j means[j] * V[j, o]``, so
the score of a row with values ``x`` is::

    sum_j x_j V[j, o] + A[o] * (x . means) - S[o] - (means . means) A[o] + c[o]

which costs only the row's own features plus one term per output column,
whatever the number of centred features. ``means`` is zero for features
that are not centred.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["CODES", "sgd_bucket"]

LOGISTIC, SOFTMAX, SQUARED = 0, 1, 2
#: The ``loss`` argument of :func:`sgd_bucket` for each loss name.
CODES = {"logistic": LOGISTIC, "softmax": SOFTMAX, "squared": SQUARED}


@njit(cache=True)
def _softplus(z):
    """Return ``log(1 + exp(z))`` without overflow."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@njit(cache=True)
def _losses(loss, scores, target, n_out, grad):
    """Write d(loss)/d(score) of one learner into ``grad``; return its loss."""
    if loss == SQUARED:
        residual = scores[0] - target
        grad[0] = residual
        return 0.5 * residual * residual
    if loss == LOGISTIC:
        z = scores[0]
        if target > 0.5:
            value = _softplus(-z)
        else:
            value = _softplus(z)
        if z >= 0.0:
            grad[0] = 1.0 / (1.0 + math.exp(-z)) - target
        else:
            e = math.exp(z)
            grad[0] = e / (1.0 + e) - target
        return value
    top = scores[0]
    for k in range(1, n_out):
        top = max(top, scores[k])
    total = 0.0
    for k in range(n_out):
        e = math.exp(scores[k] - top)
        grad[k] = e
        total += e
    label = int(target)
    value = math.log(total) + top - scores[label]
    for k in range(n_out):
        grad[k] /= total
    grad[label] -= 1.0
    return value


@njit(cache=True, nogil=True)
def sgd_bucket(
    indptr,
    indices,
    data,
    y,
    V,
    c,
    A,
    S,
    means,
    mean_square,
    eta,
    active,
    loss,
    n_out,
    totals,
):
    """Run one per-row SGD step per row of a CSR bucket, for every learner.

    Parameters
    ----------
    indptr, indices, data : ndarray
        The bucket's rows (CSR).
    y : ndarray of float
        Targets (class indices as floats for softmax).
    V, c, A, S : ndarray of float, updated in place
        Lazily centred weights ``(n_features, n_learners * n_out)``, centred
        intercepts, per-column mean accumulators and ``means . V``.
    means : ndarray of shape (n_features,)
        Training mean of each centred feature, 0 elsewhere.
    mean_square : float
        ``means . means``.
    eta : ndarray of shape (n_learners,)
        Step per learner.
    active : ndarray of bool, updated in place
        Learners this call trains; one whose loss or gradient becomes NaN
        or infinite is switched off here and keeps ``totals`` at infinity.
        Calls given disjoint learners touch disjoint parts of every
        updated array, so they may run at the same time in threads (the
        loop holds no GIL).
    loss : int
        ``LOGISTIC``, ``SOFTMAX`` or ``SQUARED``.
    n_out : int
        Output columns per learner.
    totals : ndarray of shape (n_learners,), updated in place
        Sum over rows of each row's loss before its step (the progressive
        loss).
    """
    # Loops run over 1-D slices indexed from 0, which numba compiles to
    # vector instructions; indexing the 2-D arrays directly kept them scalar.
    n_learners = eta.shape[0]
    scores = np.empty(n_out)
    grad = np.empty(n_out)
    for row in range(indptr.shape[0] - 1):
        start, stop = indptr[row], indptr[row + 1]
        centred = 0.0
        for p in range(start, stop):
            centred += data[p] * means[indices[p]]
        for learner in range(n_learners):
            if not active[learner]:
                continue
            lo, hi = learner * n_out, (learner + 1) * n_out
            c_l, A_l, S_l = c[lo:hi], A[lo:hi], S[lo:hi]
            for k in range(n_out):
                scores[k] = c_l[k] + A_l[k] * (centred - mean_square) - S_l[k]
            for p in range(start, stop):
                x, weights = data[p], V[indices[p], lo:hi]
                for k in range(n_out):
                    scores[k] += x * weights[k]
            value = _losses(loss, scores, y[row], n_out, grad)
            finite = math.isfinite(value)
            for k in range(n_out):
                finite = finite and math.isfinite(grad[k])
            if not finite:
                active[learner] = False
                totals[learner] = np.inf
                continue
            totals[learner] += value
            step = eta[learner]
            for k in range(n_out):
                grad[k] *= step
                c_l[k] -= grad[k]
                A_l[k] += grad[k]
                S_l[k] -= grad[k] * centred
            for p in range(start, stop):
                x, weights = data[p], V[indices[p], lo:hi]
                for k in range(n_out):
                    weights[k] -= x * grad[k]
