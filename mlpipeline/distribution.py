"""Distribution: the evaluation's histogram or confusion matrix, from a batch.

The embedded engine's evaluation reports the histogram of its records'
scores (BINARY) or residuals (REGRESSION), and a MULTICLASS model's
confusion matrix, itself; Amazon ML's reports the metric alone. For such a
backend the Loader's ``distribution`` step makes a BatchPrediction over
the evaluation data source and hands its output, with the evaluation
file, to :func:`histogram_from_batch`, which computes the same histogram
or matrix with the same functions as the engine.

Amazon ML writes one output line per input record, in input order, and a
blank line for a record it could not predict; the output's header is
``bestAnswer,score`` (BINARY), ``score`` (REGRESSION) or the class names,
one score column each (MULTICLASS), after a ``tag`` column when the
schema names a rowId.
"""

from __future__ import annotations

import csv
import gzip
import io
from array import array
from collections.abc import Iterator
from itertools import zip_longest
from typing import IO, Any

import numpy as np

from mlpipeline.engine.metrics import (
    confusion_matrix,
    residual_histogram,
    score_histogram,
)
from mlpipeline.engine.values import OK, parse_binary, parse_numeric

__all__ = [
    "BATCH_TYPES",
    "DistributionError",
    "histogram_from_batch",
]

#: Model types whose ``distribution`` step runs: a BINARY or REGRESSION
#: model's gives its histogram, a MULTICLASS model's its confusion matrix.
BATCH_TYPES = ("BINARY", "MULTICLASS", "REGRESSION")
_PARSERS = {"BINARY": parse_binary, "REGRESSION": parse_numeric}


class DistributionError(ValueError):
    """A batch prediction's output does not match the evaluation file."""


def _rows(handle: IO[bytes]) -> Iterator[list[str]]:
    return csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))


def _column(header: list[str], name: str, what: str) -> int:
    if name not in header:
        raise DistributionError(
            f"The {what} has no column {name!r}; its header is {header!r}."
        )
    return header.index(name)


def _paired(
    scored: Iterator[list[str]], records: Iterator[list[str]], target_at: int
) -> Iterator[tuple[list[str], str]]:
    """Yield each predicted record's output line with its target cell.

    Raise :class:`DistributionError` when the two do not pair up.
    """
    # The evaluation file has no blank records: the transform writes none.
    inputs = (row for row in records if row)
    for line, (answer, record) in enumerate(zip_longest(scored, inputs), 2):
        if answer is None or record is None:
            longer = "evaluation file" if answer is None else "output"
            raise DistributionError(
                "The batch prediction's output and the evaluation file do not "
                f"pair up: the {longer} has more records, from record {line - 1}."
            )
        if answer:
            yield answer, record[target_at]


def _nothing_to_count() -> DistributionError:
    return DistributionError(
        "No evaluation record had both a valid target and a prediction."
    )


def histogram_from_batch(
    output: IO[bytes],
    evaluation: IO[bytes],
    *,
    target: str,
    model_type: str,
    threshold: float,
) -> dict[str, Any]:
    """Return the histogram of a batch prediction over the evaluation file.

    ``output`` is the batch prediction's gzip CSV, ``evaluation`` the
    features file it predicted (with its header line). For a MULTICLASS
    model, return its confusion matrix instead (see
    :func:`_confusion_from_batch`). Records without a valid target, or
    that the service could not predict, are left out, as the evaluation
    leaves them out. Raise :class:`DistributionError` when the two files
    do not pair up line by line or hold nothing to count.
    """
    scored, records = _rows(gzip.GzipFile(fileobj=output)), _rows(evaluation)
    header = next(scored, [])
    if model_type == "MULTICLASS":
        target_at = _column(next(records, []), target, "evaluation file")
        return _confusion_from_batch(header, _paired(scored, records, target_at))
    parse = _PARSERS[model_type]
    score_at = _column(header, "score", "batch prediction output")
    target_at = _column(next(records, []), target, "evaluation file")
    truths, scores = array("d"), array("d")
    for answer, cell in _paired(scored, records, target_at):
        truth, status = parse(cell)
        if status == OK:
            truths.append(truth)
            (score,) = _scores(answer, [score_at])
            scores.append(score)
    if not truths:
        raise _nothing_to_count()
    true, predicted = np.frombuffer(truths), np.frombuffer(scores)
    if model_type == "BINARY":
        return score_histogram(true, predicted, threshold)
    return residual_histogram(true, predicted)


def _confusion_from_batch(
    header: list[str], pairs: Iterator[tuple[list[str], str]]
) -> dict[str, Any]:
    """Return a MULTICLASS model's confusion matrix from its batch output.

    Each record's predicted class is the one of highest score, ties going
    to the first class in sorted order, as the engine's predictor does.
    The result has the engine evaluation's ``confusion_matrix`` shape:
    ``labels`` (the output's classes and the true ones, sorted) and
    ``matrix``, a row per true label (see
    :func:`mlpipeline.engine.metrics.confusion_matrix`).
    """
    first = 1 if header[:1] == ["tag"] else 0
    classes = sorted(header[first:])
    if not classes:
        raise DistributionError(
            f"The batch prediction output names no class; its header is {header!r}."
        )
    # Columns in sorted class order, so that argmax's first maximum is the
    # first class in sorted order.
    columns = [header.index(name, first) for name in classes]
    truths, scores = [], []
    for answer, cell in pairs:
        # A categorical target is missing when empty (engine.values).
        if cell:
            truths.append(cell)
            scores.append(_scores(answer, columns))
    if not truths:
        raise _nothing_to_count()
    predicted = [classes[i] for i in np.asarray(scores).argmax(axis=1).tolist()]
    labels = sorted(set(classes) | set(truths))
    return {"labels": labels, "matrix": confusion_matrix(truths, predicted, labels)}


def _scores(answer: list[str], columns: list[int]) -> list[float]:
    """Return an output line's scores at ``columns`` (one per class)."""
    try:
        return [float(answer[at]) for at in columns]
    except (ValueError, IndexError) as err:
        raise DistributionError(
            f"The batch prediction output line {answer!r} does not hold a number "
            f"in every score column: {err}."
        ) from err
