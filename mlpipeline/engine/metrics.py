"""Evaluation metrics (spec §13, §19.23-25).

* ``BinaryAUC``: Mann-Whitney statistic, ties counted one half.
* ``MulticlassAvgFScore``: unweighted mean of per-class F1 over the classes
  present in the evaluation labels; F1 is 0 when precision + recall is 0.
* ``RegressionRMSE``: root mean squared error.

[ENGINE] Beyond Amazon ML, an evaluation reports a histogram of its
records: a BINARY model's scores per true class (:func:`score_histogram`),
a REGRESSION model's residuals (:func:`residual_histogram`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "HISTOGRAM_BINS",
    "binary_auc",
    "confusion_matrix",
    "macro_f1",
    "residual_histogram",
    "rmse",
    "score_histogram",
]

#: Bins of the histograms an evaluation reports.
HISTOGRAM_BINS = 20


def binary_auc(labels: Sequence[int] | np.ndarray, scores: np.ndarray) -> float:
    """Return the area under the ROC curve.

    Parameters
    ----------
    labels : array-like of shape (n,)
        True classes, 0 or 1.
    scores : array-like of shape (n,)
        Scores; higher means more likely 1.

    Returns
    -------
    float
        ``P(score_pos > score_neg) + 0.5 * P(score_pos == score_neg)``.

    Raises
    ------
    ValueError
        If ``labels`` holds only one class.
    """
    labels = np.asarray(labels)
    positive = labels == 1
    n_pos = int(positive.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes among the labels.")
    # Average ranks turn the pairwise count with half-weighted ties into a
    # single sort.
    ranks = rankdata(np.asarray(scores, dtype=float))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def macro_f1(true: Sequence[str], predicted: Sequence[str]) -> float:
    """Return the macro-averaged F1 over the classes present in ``true``.

    Parameters
    ----------
    true, predicted : sequences of str of length n
        Actual and predicted labels.
    """
    true_arr = np.asarray(true, dtype=object)
    pred_arr = np.asarray(predicted, dtype=object)
    scores = []
    for label in sorted(set(true_arr.tolist())):
        actual = true_arr == label
        guessed = pred_arr == label
        hits = int(np.count_nonzero(actual & guessed))
        precision = hits / int(guessed.sum()) if guessed.any() else 0.0
        recall = hits / int(actual.sum())
        total = precision + recall
        scores.append(2 * precision * recall / total if total else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def rmse(true: np.ndarray, predicted: np.ndarray) -> float:
    """Return ``sqrt(mean((true - predicted) ** 2))``.

    Differences above about 1e154 would overflow when squared, so those are
    divided by the largest one first and the result scaled back.
    """
    diff = np.asarray(true, dtype=float) - np.asarray(predicted, dtype=float)
    with np.errstate(over="ignore"):
        value = float(np.sqrt(np.mean(diff**2)))
    if math.isinf(value) and np.isfinite(diff).all():
        scale = float(np.abs(diff).max())
        value = float(np.sqrt(np.mean((diff / scale) ** 2))) * scale
    return value


def confusion_matrix(
    true: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> list[list[int]]:
    """Return the confusion counts of predicted against true labels.

    ``matrix[i][j]`` counts the records whose true label is ``labels[i]``
    and whose predicted label is ``labels[j]``.
    """
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(
        matrix,
        ([index[t] for t in true], [index[p] for p in predicted]),
        1,
    )
    return matrix.tolist()


def score_histogram(
    labels: Sequence[int] | np.ndarray,
    scores: np.ndarray,
    threshold: float,
    bins: int = HISTOGRAM_BINS,
) -> dict[str, Any]:
    """Return how a BINARY model's scores spread, for each true class.

    Parameters
    ----------
    labels : array-like of shape (n,)
        True classes, 0 or 1.
    scores : array-like of shape (n,)
        Scores in [0, 1].
    threshold : float
        The model's score threshold, recorded with the histogram.
    bins : int, default 20
        Bins of equal width over [0, 1]; the last one holds 1.

    Returns
    -------
    dict
        ``{"kind": "score", "edges": [...], "counts": {"0": [...], "1":
        [...]}, "threshold": threshold}``: ``bins + 1`` edges, and per true
        class the number of records whose score falls in each bin.
    """
    labels = np.asarray(labels)
    values = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    edges = [index / bins for index in range(bins + 1)]
    counts = {
        str(label): np.histogram(values[labels == label], bins=edges)[0].tolist()
        for label in (0, 1)
    }
    return {
        "kind": "score",
        "edges": edges,
        "counts": counts,
        "threshold": float(threshold),
    }


def residual_histogram(
    true: np.ndarray, predicted: np.ndarray, bins: int = HISTOGRAM_BINS
) -> dict[str, Any]:
    """Return how a REGRESSION model's residuals (true - predicted) spread.

    The bins are of equal width and symmetric around 0, wide enough for the
    residuals between the 1st and the 99th percentile; the rarer ones
    beyond are counted apart, so that a few outliers do not squeeze the
    rest into one bin.

    Parameters
    ----------
    true, predicted : array-like of shape (n,)
        Actual and predicted values.
    bins : int, default 20
        Number of bins.

    Returns
    -------
    dict
        ``{"kind": "residual", "edges": [...], "counts": [...], "below": n,
        "above": m, "mean": mean}``: ``bins + 1`` edges (6 significant
        digits), the residuals in each bin, those below the first edge and
        above the last, and the mean residual.
    """
    residuals = np.asarray(true, dtype=float) - np.asarray(predicted, dtype=float)
    low, high = np.percentile(residuals, [1, 99])
    limit = max(abs(low), abs(high)) or float(np.abs(residuals).max()) or 1.0
    edges = [float(f"{edge:.6g}") for edge in np.linspace(-limit, limit, bins + 1)]
    return {
        "kind": "residual",
        "edges": edges,
        "counts": np.histogram(residuals, bins=edges)[0].tolist(),
        "below": int(np.count_nonzero(residuals < edges[0])),
        "above": int(np.count_nonzero(residuals > edges[-1])),
        "mean": float(residuals.mean()),
    }
