"""Evaluation metrics (spec §13, §19.23-25).

* ``BinaryAUC``: Mann-Whitney statistic, ties counted one half.
* ``MulticlassAvgFScore``: unweighted mean of per-class F1 over the classes
  present in the evaluation labels; F1 is 0 when precision + recall is 0.
* ``RegressionRMSE``: root mean squared error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

__all__ = ["binary_auc", "confusion_matrix", "macro_f1", "rmse"]


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
    """Return ``sqrt(mean((true - predicted) ** 2))``."""
    diff = np.asarray(true, dtype=float) - np.asarray(predicted, dtype=float)
    return float(np.sqrt(np.mean(diff**2)))


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
