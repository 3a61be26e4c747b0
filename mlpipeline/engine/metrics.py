"""Evaluation metrics (spec §13, §19.23-25).

* ``BinaryAUC``: Mann-Whitney statistic, ties counted one half.
* ``MulticlassAvgFScore``: unweighted mean of per-class F1 over the classes
  present in the evaluation labels; F1 is 0 when precision + recall is 0.
* ``RegressionRMSE``: root mean squared error.

[ENGINE] Beyond Amazon ML, an evaluation reports a histogram of its
records: a BINARY model's scores per true class (:func:`score_histogram`),
a REGRESSION model's residuals (:func:`residual_histogram`).

Evaluations stream their records, so the metrics also come from summaries
whose size does not grow with the records: F1 and the confusion matrix
from counts of (true, predicted) pairs, the AUC from
:class:`RankedScores`, which keeps at most about a million scores in
memory and sorts larger sets on disk, the score histogram from counts per
bin, and the residual histogram from :class:`Residuals`, which keeps its
residuals on disk past a million. Each gives exactly the figures of the
function that takes every value at once, with one [ENGINE] exception: past
a million residuals, the residual histogram's range comes from the 1st and
99th percentiles of a uniform sample of 262,144 of them
(:class:`~mlpipeline.engine.sketch.ValueSketch`), each within 0.5 % of its
rank with probability above 0.99999; its counts stay exact.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlpipeline.engine.sketch import ValueSketch

__all__ = [
    "HISTOGRAM_BINS",
    "RankedScores",
    "Residuals",
    "ScoreHistogram",
    "binary_auc",
    "confusion_matrix",
    "confusion_matrix_of_counts",
    "macro_f1",
    "macro_f1_of_counts",
    "residual_histogram",
    "rmse",
    "score_histogram",
]

#: Bins of the histograms an evaluation reports.
HISTOGRAM_BINS = 20

#: Scores of :class:`RankedScores` kept in memory before a sorted run of
#: them goes to disk.
RUN_SCORES = 1 << 20
_MERGE_CHUNK = 1 << 16


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
    ranked = RankedScores()
    ranked.add(np.asarray(labels) == 1, np.asarray(scores, dtype=float))
    return ranked.auc()


class RankedScores:
    """Gather (label, score) pairs; return their exact AUC in bounded memory.

    Up to :data:`RUN_SCORES` pairs are held in memory. Past that, each full
    buffer is sorted and written to ``folder`` (a temporary folder of the
    system's when ``None``, removed by :meth:`auc` and :meth:`close`), and
    :meth:`auc` merges the sorted runs a chunk at a time. Equal scores are
    counted as one group wherever they lie, so ties count one half as
    :func:`binary_auc` counts them.

    Parameters
    ----------
    folder : path, optional
        Where sorted runs go.
    run_scores : int, default 1048576
        Pairs held in memory before a run is written.
    merge_chunk : int, default 65536
        Pairs read from each run at a time while merging.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        run_scores: int = RUN_SCORES,
        merge_chunk: int = _MERGE_CHUNK,
    ) -> None:
        self.folder = folder
        self.run_scores = run_scores
        self.merge_chunk = merge_chunk
        self.positives = self.negatives = 0
        self._has_nan = False
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_count = 0
        self._runs: list[int] = []
        self._spill: tempfile.TemporaryDirectory[str] | None = None

    def add(self, positive: np.ndarray, scores: np.ndarray) -> None:
        """Add a block of labels (true for class 1) and their scores."""
        positive = np.asarray(positive, dtype=bool)
        scores = np.asarray(scores, dtype=np.float64)
        if not len(scores):
            return
        n_pos = int(np.count_nonzero(positive))
        self.positives += n_pos
        self.negatives += len(positive) - n_pos
        self._has_nan = self._has_nan or bool(np.isnan(scores).any())
        self._pending.append((scores, positive))
        self._pending_count += len(scores)
        if self._pending_count >= self.run_scores:
            self._write_run()

    def auc(self) -> float:
        """Return the AUC of every pair added, and drop them.

        Raises
        ------
        ValueError
            If the labels hold only one class.
        """
        if self.positives == 0 or self.negatives == 0:
            self.close()
            raise ValueError("AUC needs both classes among the labels.")
        if self._has_nan:
            self.close()
            return float("nan")
        try:
            # Twice the Mann-Whitney U, in integers, so the one division
            # below is the only rounding.
            twice_u = 0
            below = 0
            for pos, neg in self._groups():
                before = np.cumsum(neg) - neg + below
                twice_u += int((pos * (2 * before + neg)).sum())
                below += int(neg.sum())
        finally:
            self.close()
        return twice_u / (2 * self.positives * self.negatives)

    def close(self) -> None:
        """Drop the pairs and remove the runs written to disk."""
        self._pending, self._pending_count, self._runs = [], 0, []
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None

    def _pending_sorted(self) -> tuple[np.ndarray, np.ndarray]:
        scores = np.concatenate([s for s, _ in self._pending] + [np.zeros(0)])
        positive = np.concatenate(
            [p for _, p in self._pending] + [np.zeros(0, dtype=bool)]
        )
        self._pending, self._pending_count = [], 0
        order = np.argsort(scores, kind="stable")
        return scores[order], positive[order]

    def _path(self, run: int, part: str) -> Path:
        assert self._spill is not None
        return Path(self._spill.name) / f"run-{run:05d}.{part}"

    def _write_run(self) -> None:
        if not self._pending_count:
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryDirectory(
                prefix="mlpipeline-scores-", dir=self.folder
            )
        scores, positive = self._pending_sorted()
        run = len(self._runs)
        scores.tofile(self._path(run, "scores"))
        positive.tofile(self._path(run, "labels"))
        self._runs.append(len(scores))

    def _groups(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield positives and negatives per distinct score, ascending."""
        if not self._runs:
            yield _group_counts(*self._pending_sorted())
            return
        self._write_run()
        runs = [
            (
                np.memmap(self._path(run, "scores"), np.float64, "r", shape=(size,)),
                np.memmap(self._path(run, "labels"), np.bool_, "r", shape=(size,)),
            )
            for run, size in enumerate(self._runs)
        ]
        yield from _merged_groups(runs, self.merge_chunk)


def _group_counts(
    scores: np.ndarray, positive: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return positives and negatives per distinct value of sorted scores."""
    if not len(scores):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], scores[1:] != scores[:-1]]))
    pos = np.add.reduceat(positive.astype(np.int64), starts)
    sizes = np.diff(np.concatenate([starts, [len(scores)]]))
    return pos, sizes - pos


def _merged_groups(
    runs: list[tuple[np.ndarray, np.ndarray]], chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the group counts of several sorted runs, merged, ascending.

    Each round takes a chunk from every run and finds the smallest of their
    last scores, ``t``: every score below ``t`` of every run lies within
    its chunk, so those are sorted together; then the scores equal to ``t``
    are counted wherever they lie, so a group of ties is never split.
    """
    starts = [0] * len(runs)
    while True:
        live = [i for i, (scores, _) in enumerate(runs) if starts[i] < len(scores)]
        if not live:
            return
        t = min(runs[i][0][min(starts[i] + chunk, len(runs[i][0])) - 1] for i in live)
        lower_scores, lower_labels = [], []
        for i in live:
            scores, positive = runs[i]
            window = scores[starts[i] : starts[i] + chunk]
            cut = starts[i] + int(np.searchsorted(window, t, side="left"))
            lower_scores.append(np.asarray(scores[starts[i] : cut]))
            lower_labels.append(np.asarray(positive[starts[i] : cut]))
            starts[i] = cut
        merged = np.concatenate(lower_scores)
        if len(merged):
            order = np.argsort(merged, kind="stable")
            yield _group_counts(merged[order], np.concatenate(lower_labels)[order])
        pos = neg = 0
        for i in live:
            scores, positive = runs[i]
            stop = starts[i] + int(np.searchsorted(scores[starts[i] :], t, "right"))
            for low in range(starts[i], stop, chunk):
                part = positive[low : min(low + chunk, stop)]
                found = int(np.count_nonzero(part))
                pos, neg = pos + found, neg + len(part) - found
            starts[i] = stop
        yield np.array([pos], np.int64), np.array([neg], np.int64)


def macro_f1(true: Sequence[str], predicted: Sequence[str]) -> float:
    """Return the macro-averaged F1 over the classes present in ``true``.

    Parameters
    ----------
    true, predicted : sequences of str of length n
        Actual and predicted labels.
    """
    return macro_f1_of_counts(Counter(zip(true, predicted, strict=True)))


def macro_f1_of_counts(pairs: Mapping[tuple[str, str], int]) -> float:
    """Return the macro F1 of records counted per (true, predicted) label."""
    actual: Counter[str] = Counter()
    guessed: Counter[str] = Counter()
    for (true, predicted), count in pairs.items():
        actual[true] += count
        guessed[predicted] += count
    scores = []
    for label in sorted(label for label, count in actual.items() if count):
        hits = pairs.get((label, label), 0)
        precision = hits / guessed[label] if guessed[label] else 0.0
        recall = hits / actual[label]
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
    pairs = Counter(zip(true, predicted, strict=True))
    return confusion_matrix_of_counts(pairs, labels)


def confusion_matrix_of_counts(
    pairs: Mapping[tuple[str, str], int], labels: Sequence[str]
) -> list[list[int]]:
    """Return :func:`confusion_matrix` of records counted per label pair.

    Raises
    ------
    KeyError
        If a counted label is not in ``labels``.
    """
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for (true, predicted), count in pairs.items():
        matrix[index[true], index[predicted]] += count
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
    histogram = ScoreHistogram(bins)
    histogram.add(labels, scores)
    return histogram.result(threshold)


class ScoreHistogram:
    """Count scores per bin and true class, block by block.

    :meth:`result` is :func:`score_histogram` of every block added.
    """

    def __init__(self, bins: int = HISTOGRAM_BINS) -> None:
        self.edges = [index / bins for index in range(bins + 1)]
        self.counts = {label: np.zeros(bins, dtype=np.int64) for label in (0, 1)}

    def add(self, labels: Sequence[int] | np.ndarray, scores: np.ndarray) -> None:
        """Add a block of true classes (0 or 1) and scores."""
        labels = np.asarray(labels)
        values = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
        for label, counts in self.counts.items():
            counts += np.histogram(values[labels == label], bins=self.edges)[0]

    def result(self, threshold: float) -> dict[str, Any]:
        """Return the histogram, shaped as :func:`score_histogram`'s."""
        return {
            "kind": "score",
            "edges": list(self.edges),
            "counts": {str(k): v.tolist() for k, v in self.counts.items()},
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
    residuals = Residuals()
    residuals.add(true, predicted)
    return residuals.histogram(bins)


class Residuals:
    """Gather a REGRESSION model's residuals for their histogram and RMSE.

    Up to :data:`RUN_SCORES` residuals are held in memory, as float64;
    past that they go to a file in a temporary folder inside ``folder``
    (the system's when ``None``), removed by :meth:`close`, and are read
    back a chunk at a time. See the module for the one approximation.

    Parameters
    ----------
    folder : path, optional
        Where the residuals go past ``memory_residuals``.
    memory_residuals : int, default 1048576
        Residuals held in memory.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        memory_residuals: int = RUN_SCORES,
    ) -> None:
        self.folder = folder
        self.memory_residuals = memory_residuals
        self.count = 0
        self._sums: list[float] = []
        self._parts: list[np.ndarray] = []
        self._sketch = ValueSketch()
        self._spill: tempfile.TemporaryDirectory[str] | None = None

    def add(self, true: np.ndarray, predicted: np.ndarray) -> None:
        """Add a block of actual and predicted values."""
        residuals = np.asarray(true, dtype=float) - np.asarray(predicted, dtype=float)
        if not len(residuals):
            return
        self.count += len(residuals)
        self._sums.append(float(residuals.sum()))
        self._sketch.add(residuals[np.isfinite(residuals)])
        if self._spill is None and self.count <= self.memory_residuals:
            self._parts.append(residuals)
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryDirectory(
                prefix="mlpipeline-residuals-", dir=self.folder
            )
            self._parts.append(residuals)
            residuals = np.concatenate(self._parts)
            self._parts = []
        with open(self._path(), "ab") as handle:
            handle.write(residuals.tobytes())

    def rmse(self) -> float:
        """Return the root mean squared residual.

        As :func:`rmse` does, residuals whose squares overflow (above about
        1e154) are divided by the largest one first, in a second pass.
        """
        with np.errstate(over="ignore"):
            squares = [float((part**2).sum()) for part in self._chunks()]
        try:
            value = math.sqrt(math.fsum(squares) / self.count)
        except OverflowError:  # fsum of finite squares past the float range
            value = math.inf
        if not math.isinf(value):
            return value
        scale = max(float(np.abs(part).max(initial=0.0)) for part in self._chunks())
        if not math.isfinite(scale):
            return math.inf
        scaled = [float(((part / scale) ** 2).sum()) for part in self._chunks()]
        return math.sqrt(math.fsum(scaled) / self.count) * scale

    def histogram(self, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
        """Return :func:`residual_histogram` of every residual added."""
        if self._spill is None:
            residuals = np.concatenate([*self._parts, np.zeros(0)])
            low, high = np.percentile(residuals, [1, 99])
            largest = float(np.abs(residuals).max())
        else:
            low, high = self._sketch.quantiles(np.array([0.01, 0.99]))
            largest = max(abs(self._sketch.minimum), abs(self._sketch.maximum))
        limit = max(abs(low), abs(high)) or largest or 1.0
        edges = [float(f"{edge:.6g}") for edge in np.linspace(-limit, limit, bins + 1)]
        counts = np.zeros(bins, dtype=np.int64)
        below = above = 0
        for part in self._chunks():
            counts += np.histogram(part, bins=edges)[0]
            below += int(np.count_nonzero(part < edges[0]))
            above += int(np.count_nonzero(part > edges[-1]))
        if self._spill is None:
            mean = float(residuals.mean())
        else:
            mean = math.fsum(self._sums) / self.count
        return {
            "kind": "residual",
            "edges": edges,
            "counts": counts.tolist(),
            "below": below,
            "above": above,
            "mean": mean,
        }

    def close(self) -> None:
        """Drop the residuals and remove the file written past memory."""
        self._parts = []
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None

    def _path(self) -> Path:
        assert self._spill is not None
        return Path(self._spill.name) / "residuals"

    def _chunks(self) -> Iterator[np.ndarray]:
        if self._spill is None:
            if self._parts:
                yield np.concatenate(self._parts)
            return
        with open(self._path(), "rb") as handle:
            while data := handle.read(8 * _MERGE_CHUNK):
                yield np.frombuffer(data, dtype=np.float64)
