"""Data source statistics (spec §10).

Amazon ML computes these for its console only; the engine returns them
under the extra ``Statistics`` key of GetDataSource, which Amazon's API does
not have. Shape::

    {"records": {"total", "selected", "valid", "invalid", "problems"},
     "target": {"name", "type", "distribution"} or None,
     "attributes": {name: {...}}}

``attributes`` is present only when ComputeStatistics was requested. Every
attribute entry has ``type``, ``count`` (valid values), ``missing`` and
``invalid``, plus, by type:

* NUMERIC: ``min``, ``max``, ``mean``, ``median``, ``distinct`` and a
  ``histogram`` of 10 equal-width bins (``edges``, ``counts``); [ENGINE]
  exact up to 262,144 values per attribute (distinct: 65,536), then read
  from one-pass sketches with the error bounds stated in
  :mod:`mlpipeline.engine.sketch`, so memory does not grow with the rows;
* BINARY: ``distinct``, ``top_values`` and ``percent_true``;
* CATEGORICAL: ``distinct`` and ``top_values`` (the 10 most frequent, ties
  by value); [ENGINE] exact up to 65,536 distinct values, then from the
  bounded summary of :class:`~mlpipeline.engine.sketch.FrequentValues`;
* TEXT: ``total_words``, ``unique_words``, ``words_per_record`` (min/max),
  ``word_lengths`` (min/max characters of a word, as split on whitespace)
  and ``top_words``, counted after lowercasing and stripping punctuation
  (distinct words and their counts bounded as for CATEGORICAL).

When the schema has a BINARY, NUMERIC or CATEGORICAL target, every other
attribute also gets ``correlation``, its correlation to the target between
0 and 1 (``None`` where undefined), computed as
:mod:`mlpipeline.engine.correlation` describes.

``target.distribution`` maps each class of a BINARY or CATEGORICAL target
to its count (the 100 most frequent); it is ``None`` for a NUMERIC target.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from mlpipeline.engine.correlation import Correlation, TargetBlock
from mlpipeline.engine.csvio import ReadReport
from mlpipeline.engine.schema import Schema
from mlpipeline.engine.sketch import DistinctSketch, FrequentValues, ValueSketch
from mlpipeline.engine.text import no_punct, tokenize
from mlpipeline.engine.values import INVALID, MISSING, Column, Table

__all__ = ["StatisticsBuilder", "records_summary"]

TOP_VALUES = 10
TARGET_CLASSES = 100
HISTOGRAM_BINS = 10


def _top(counter: Counter, n: int) -> list[dict[str, Any]]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [{"value": value, "count": count} for value, count in ranked[:n]]


def records_summary(report: ReadReport) -> dict[str, Any]:
    """Return the record counts of a read as JSON-compatible data."""
    return {
        "total": report.records,
        "selected": report.selected,
        "valid": report.valid,
        "invalid": report.invalid,
        "problems": list(report.problems),
    }


class _Accumulator:
    """Count valid, missing and invalid values of one attribute."""

    def __init__(self, attr_type: str) -> None:
        self.type = attr_type
        self.seen = self.missing = self.invalid = 0

    def update(self, column: Column) -> None:
        self.missing += int(np.count_nonzero(column.status == MISSING))
        self.invalid += int(np.count_nonzero(column.status == INVALID))
        self.seen += len(column)
        self._add(column)

    def _add(self, column: Column) -> None:
        raise NotImplementedError

    def result(self) -> dict[str, Any]:
        valid = self.seen - self.missing - self.invalid
        return {
            "type": self.type,
            "count": valid,
            "missing": self.missing,
            "invalid": self.invalid,
            **self._details(),
        }

    def _details(self) -> dict[str, Any]:
        raise NotImplementedError


class _Numeric(_Accumulator):
    """Summarise a NUMERIC attribute in one pass with bounded memory.

    Exact up to 262,144 valid values (distinct counts up to 65,536); past
    that the median and histogram counts come from a sample and the
    distinct count is estimated (see :mod:`mlpipeline.engine.sketch`).
    """

    def __init__(self, attr_type: str) -> None:
        super().__init__(attr_type)
        self.values = ValueSketch()
        self.distinct = DistinctSketch()

    def _add(self, column: Column) -> None:
        finite = column.values[np.isfinite(column.values)]
        self.values.add(finite)
        self.distinct.add(finite)

    def _details(self) -> dict[str, Any]:
        if not self.values.count:
            return {
                "min": None,
                "max": None,
                "mean": None,
                "median": None,
                "distinct": 0,
                "histogram": {"edges": [], "counts": []},
            }
        counts, edges = self.values.histogram(HISTOGRAM_BINS)
        return {
            "min": self.values.minimum,
            "max": self.values.maximum,
            "mean": self.values.mean(),
            "median": self.values.median(),
            "distinct": self.distinct.count(),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        }


class _Binary(_Accumulator):
    def __init__(self, attr_type: str) -> None:
        super().__init__(attr_type)
        self.ones = self.zeros = 0

    def _add(self, column: Column) -> None:
        self.ones += int(np.count_nonzero(column.values == 1))
        self.zeros += int(np.count_nonzero(column.values == 0))

    def _details(self) -> dict[str, Any]:
        counter = Counter({k: v for k, v in (("1", self.ones), ("0", self.zeros)) if v})
        total = self.ones + self.zeros
        return {
            "distinct": len(counter),
            "top_values": _top(counter, TOP_VALUES),
            "percent_true": 100.0 * self.ones / total if total else None,
        }


class _Categorical(_Accumulator):
    """Count a CATEGORICAL attribute's values, in bounded memory.

    Exact up to 65,536 distinct values; past that the distinct count is
    estimated and the top values' counts are those of the frequent values
    (see :class:`~mlpipeline.engine.sketch.FrequentValues`).
    """

    def __init__(self, attr_type: str) -> None:
        super().__init__(attr_type)
        self.values = FrequentValues()

    def _add(self, column: Column) -> None:
        # Categories are never empty: only missing values are falsy.
        self.values.update(filter(None, column.values))

    def _details(self) -> dict[str, Any]:
        return {
            "distinct": self.values.distinct(),
            "top_values": _top(self.values.counts, TOP_VALUES),
        }


class _Text(_Accumulator):
    """Count a TEXT attribute's words, in bounded memory (as CATEGORICAL)."""

    def __init__(self, attr_type: str) -> None:
        super().__init__(attr_type)
        self.total = 0
        self.unique = FrequentValues()
        self.shortest: int | None = None
        self.longest = 0
        self.shortest_word: int | None = None
        self.longest_word = 0
        self.words = FrequentValues()

    def _add(self, column: Column) -> None:
        tokens_of_rows = [tokenize(text) for text in column.values if text is not None]
        for tokens in tokens_of_rows:
            self.total += len(tokens)
            self.longest = max(self.longest, len(tokens))
            if self.shortest is None or len(tokens) < self.shortest:
                self.shortest = len(tokens)
            lengths = [len(t) for t in tokens]
            self.longest_word = max(self.longest_word, *lengths)
            if self.shortest_word is None or min(lengths) < self.shortest_word:
                self.shortest_word = min(lengths)
        tokens = [token for row in tokens_of_rows for token in row]
        self.unique.update(tokens)
        self.words.update(no_punct([token.lower() for token in tokens]))

    def _details(self) -> dict[str, Any]:
        return {
            "total_words": self.total,
            "unique_words": self.unique.distinct(),
            "words_per_record": {"min": self.shortest, "max": self.longest or None},
            "word_lengths": {
                "min": self.shortest_word,
                "max": self.longest_word or None,
            },
            "top_words": _top(self.words.counts, TOP_VALUES),
        }


_KINDS = {
    "NUMERIC": _Numeric,
    "BINARY": _Binary,
    "CATEGORICAL": _Categorical,
    "TEXT": _Text,
}


class StatisticsBuilder:
    """Accumulate per-attribute statistics over blocks of records.

    Parameters
    ----------
    schema : Schema
        Schema of the data source; every attribute gets statistics.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.accumulators = {a.name: _KINDS[a.type](a.type) for a in schema.attributes}
        target_type = schema.types.get(schema.target) if schema.target else None
        self.correlations: dict[str, Correlation] = {}
        self.classes = target_type == "CATEGORICAL"
        if target_type in ("BINARY", "NUMERIC", "CATEGORICAL"):
            self.correlations = {
                a.name: Correlation(a.type, classes=target_type == "CATEGORICAL")
                for a in schema.attributes
                if a.name != schema.target
            }

    def update(self, table: Table) -> None:
        """Add a block of parsed records holding every schema attribute."""
        for name, accumulator in self.accumulators.items():
            accumulator.update(table[name])
        if self.correlations:
            target = TargetBlock(table[self.schema.target], self.classes)
            for name, correlation in self.correlations.items():
                correlation.update(table[name], target)

    def result(self, report: ReadReport) -> dict[str, Any]:
        """Return the statistics as JSON-compatible data."""
        attributes = {name: acc.result() for name, acc in self.accumulators.items()}
        for name, correlation in self.correlations.items():
            attributes[name]["correlation"] = correlation.result()
        return {
            "records": records_summary(report),
            "target": self._target(),
            "attributes": attributes,
        }

    def _target(self) -> dict[str, Any] | None:
        name = self.schema.target
        if name is None:
            return None
        accumulator = self.accumulators[name]
        distribution = None
        if isinstance(accumulator, _Binary):
            distribution = {"0": accumulator.zeros, "1": accumulator.ones}
        elif isinstance(accumulator, _Categorical):
            top = _top(accumulator.values.counts, TARGET_CLASSES)
            distribution = {item["value"]: item["count"] for item in top}
        return {"name": name, "type": accumulator.type, "distribution": distribution}
