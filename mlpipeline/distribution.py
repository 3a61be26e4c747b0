"""Distribution: the evaluation's score or residual histogram, from a batch.

The embedded engine's evaluation reports the histogram of its records'
scores (BINARY) or residuals (REGRESSION) itself; Amazon ML's reports the
metric alone. For such a backend the Loader's ``distribution`` step makes
a BatchPrediction over the evaluation data source and hands its output,
with the evaluation file, to :func:`histogram_from_batch`, which computes
the same histogram with the same functions as the engine.

Amazon ML writes one output line per input record, in input order, and a
blank line for a record it could not predict; the output's header is
``bestAnswer,score`` (BINARY) or ``score`` (REGRESSION), after a ``tag``
column when the schema names a rowId.
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

from mlpipeline.engine.metrics import residual_histogram, score_histogram
from mlpipeline.engine.values import OK, parse_binary, parse_numeric

__all__ = ["HISTOGRAM_TYPES", "DistributionError", "histogram_from_batch"]

#: Model types whose evaluation has a histogram.
HISTOGRAM_TYPES = ("BINARY", "REGRESSION")
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
    features file it predicted (with its header line). Records without a
    valid target, or that the service could not predict, are left out, as
    the evaluation leaves them out. Raise :class:`DistributionError` when
    the two files do not pair up line by line or hold nothing to count.
    """
    parse = _PARSERS[model_type]
    scored, records = _rows(gzip.GzipFile(fileobj=output)), _rows(evaluation)
    score_at = _column(next(scored, []), "score", "batch prediction output")
    target_at = _column(next(records, []), target, "evaluation file")
    truths, scores = array("d"), array("d")
    # The evaluation file has no blank records: the transform writes none.
    inputs = (row for row in records if row)
    pairs = zip_longest(scored, inputs)
    for line, (answer, record) in enumerate(pairs, 2):
        if answer is None or record is None:
            longer = "evaluation file" if answer is None else "output"
            raise DistributionError(
                "The batch prediction's output and the evaluation file do not "
                f"pair up: the {longer} has more records, from record {line - 1}."
            )
        if not answer:
            continue
        truth, status = parse(record[target_at])
        if status == OK:
            truths.append(truth)
            scores.append(float(answer[score_at]))
    if not truths:
        raise DistributionError(
            "No evaluation record had both a valid target and a prediction."
        )
    true, predicted = np.frombuffer(truths), np.frombuffer(scores)
    if model_type == "BINARY":
        return score_histogram(true, predicted, threshold)
    return residual_histogram(true, predicted)
