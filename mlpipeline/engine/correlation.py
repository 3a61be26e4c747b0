"""Correlation of each attribute with the target (spec §10).

Amazon ML's console showed, for every attribute, its "correlation to
target" between 0 and 1 without saying how it was computed. [ENGINE] The
engine uses, over the records where both the attribute and the target are
valid:

===========================  ==================  ==========================
attribute                    target              correlation
===========================  ==================  ==========================
NUMERIC or BINARY            NUMERIC or BINARY   ``|r|``, Pearson's r
NUMERIC or BINARY            CATEGORICAL         η, the correlation ratio
                                                 of the attribute over the
                                                 target classes
CATEGORICAL                  NUMERIC or BINARY   η of the target over the
                                                 attribute's categories
CATEGORICAL                  CATEGORICAL         Cramér's V
TEXT                         any                 the largest of the above
                                                 over its 100 words found
                                                 in most records, each
                                                 word's presence taken as a
                                                 BINARY attribute
===========================  ==================  ==========================

A BINARY target counts as the numbers 0 and 1 (for a CATEGORICAL attribute
η is then Cramér's V of the two-column table). Words are lowercased and
stripped of punctuation, as in the word counts. The correlation is ``None``
when it is undefined: no target, fewer than two usable records, or an
attribute or target that never varies. A unique id column correlates
perfectly with anything (η or V of 1), as it would in any such measure.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from mlpipeline.engine.text import no_punct, tokenize
from mlpipeline.engine.values import OK, Column, pick

__all__ = [
    "TEXT_WORDS",
    "Correlation",
    "TargetBlock",
    "cramers_v",
    "eta",
    "pearson",
]

TEXT_WORDS = 100
_TINY = 1e-12


def pearson(
    n: float, sx: float, sy: float, sxx: float, syy: float, sxy: float
) -> float | None:
    """Return ``|r|`` from sums, or ``None`` if either side is constant."""
    if n < 2:
        return None
    var_x = sxx - sx * sx / n
    var_y = syy - sy * sy / n
    if var_x <= _TINY * max(sxx, 1.0) or var_y <= _TINY * max(syy, 1.0):
        return None
    r = (sxy - sx * sy / n) / math.sqrt(var_x * var_y)
    return min(abs(r), 1.0)


def eta(groups: dict[Any, list[float]]) -> float | None:
    """Return the correlation ratio of per-group ``[n, sum, sum of squares]``.

    η is the square root of the share of the values' spread that lies
    between the groups' means.
    """
    n = sum(g[0] for g in groups.values())
    total = sum(g[1] for g in groups.values())
    squares = sum(g[2] for g in groups.values())
    if n < 2 or len(groups) < 2:
        return None
    spread = squares - total * total / n
    if spread <= _TINY * max(squares, 1.0):
        return None
    between = sum(g[1] * g[1] / g[0] for g in groups.values()) - total * total / n
    return min(math.sqrt(max(between, 0.0) / spread), 1.0)


def cramers_v(table: dict[tuple[Any, Any], int]) -> float | None:
    """Return Cramér's V of a contingency table ``{(row, column): count}``."""
    rows: Counter = Counter()
    columns: Counter = Counter()
    for (row, column), count in table.items():
        rows[row] += count
        columns[column] += count
    n = sum(rows.values())
    k = min(len(rows), len(columns))
    if n < 2 or k < 2:
        return None
    ratio = sum(c * c / (rows[r] * columns[col]) for (r, col), c in table.items())
    chi2 = n * (ratio - 1.0)
    return min(math.sqrt(max(chi2, 0.0) / (n * (k - 1))), 1.0)


def _codes(keys: list[Any]) -> tuple[list[Any], np.ndarray]:
    """Return the distinct keys, sorted, and each key's index among them."""
    if not keys:
        return [], np.zeros(0, dtype=np.int64)
    labels, codes = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    return labels.tolist(), codes


class TargetBlock:
    """A block's target values, prepared once for every attribute.

    Parameters
    ----------
    column : Column
        The target's parsed values.
    classes : bool
        Whether the target is CATEGORICAL; its classes are then numbered.
    """

    def __init__(self, column: Column, classes: bool) -> None:
        self.status = column.status
        self.values = column.values
        if classes:
            valid = np.flatnonzero(column.status == OK)
            self.labels, codes = _codes(pick(column.values, valid))
            self.codes = np.full(len(column), -1, dtype=np.int64)
            self.codes[valid] = codes


class Correlation:
    """Accumulate one attribute's correlation with the target, block by block.

    Parameters
    ----------
    attr_type : str
        The attribute's type.
    classes : bool
        Whether the target is CATEGORICAL (else its values are numbers).
    """

    def __init__(self, attr_type: str, classes: bool) -> None:
        self.attr_type = attr_type
        self.classes = classes
        # Numbers are summed after subtracting the first value seen, which
        # keeps the sums of squares from cancelling on large offsets.
        self.shift_x: float | None = None
        self.shift_y: float | None = None
        self.sums = np.zeros(6)  # n, sx, sy, sxx, syy, sxy
        # TODO: the groups and the table hold every distinct category of a
        # CATEGORICAL attribute (times the classes it was seen with), so a
        # unique id column costs memory per record; keeping only the
        # frequent categories (as sketch.FrequentValues does for the counts)
        # and pooling the rest into one group would bound them.
        self.groups: dict[Any, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.table: Counter = Counter()
        # TODO: the word counters hold every distinct word (times the
        # classes it was seen with); the statistics' own word counts are
        # bounded (sketch.FrequentValues), and the same summary would bound
        # these.
        self.words: Counter = Counter()
        self.normal: dict[str, str] = {}
        self.word_targets: Counter = Counter()
        self.word_sums: dict[str, float] = {}
        self.target_total = [0, 0.0, 0.0]
        self.target_classes: Counter = Counter()

    def update(self, column: Column, target: TargetBlock) -> None:
        """Add a block: the attribute's parsed values and the target's."""
        usable = (column.status == OK) & (target.status == OK)
        if not usable.any():
            return
        index = np.flatnonzero(usable)
        if self.attr_type in ("NUMERIC", "BINARY"):
            self._numbers(column.values[index], target, index)
        elif self.attr_type == "CATEGORICAL":
            self._categories(pick(column.values, index), target, index)
        else:
            self._texts(pick(column.values, index), self._y(target, index))

    def _y(self, target: TargetBlock, index: np.ndarray) -> Any:
        """Return the target at ``index``: labels or shifted numbers."""
        if self.classes:
            return pick(target.values, index)
        values = target.values[index]
        if self.shift_y is None:
            self.shift_y = float(values[0])
        return values - self.shift_y

    def _numbers(self, x: np.ndarray, target: TargetBlock, index: np.ndarray) -> None:
        if self.shift_x is None:
            self.shift_x = float(x[0])
        x = x - self.shift_x
        if self.classes:
            self._add_groups(target.labels, target.codes[index], x)
            return
        y = self._y(target, index)
        self.sums += [len(x), x.sum(), y.sum(), x @ x, y @ y, x @ y]

    def _categories(
        self, categories: list[str], target: TargetBlock, index: np.ndarray
    ) -> None:
        y = self._y(target, index)
        if self.classes:
            self.table.update(zip(categories, y, strict=True))
            return
        self._add_groups(*_codes(categories), y)

    def _add_groups(
        self, labels: list[Any], codes: np.ndarray, values: np.ndarray
    ) -> None:
        """Add each value to the count, sum and squares of its group."""
        size = len(labels)
        counts = np.bincount(codes, minlength=size).tolist()
        sums = np.bincount(codes, weights=values, minlength=size).tolist()
        squares = np.bincount(codes, weights=values * values, minlength=size).tolist()
        for i, label in enumerate(labels):
            if counts[i]:
                group = self.groups[label]
                group[0] += counts[i]
                group[1] += sums[i]
                group[2] += squares[i]

    def _texts(self, texts: list[str], y: Any) -> None:
        targets = y if self.classes else y.tolist()
        normal, word_of = self.normal, self._word
        for text, value in zip(texts, targets, strict=True):
            words = {normal.get(token) or word_of(token) for token in tokenize(text)}
            words.discard("")
            self.words.update(words)
            if self.classes:
                self.target_classes[value] += 1
                self.word_targets.update((word, value) for word in words)
                continue
            total = self.target_total
            total[0] += 1
            total[1] += value
            total[2] += value * value
            for word in words:
                self.word_sums[word] = self.word_sums.get(word, 0.0) + value

    def _word(self, token: str) -> str:
        """Return a token lowercased, without edge punctuation ("" if none)."""
        word = self.normal.get(token)
        if word is None:
            stripped = no_punct([token.lower()])
            word = self.normal[token] = stripped[0] if stripped else ""
        return word

    def result(self) -> float | None:
        """Return the correlation, or ``None`` when it is undefined.

        Values so large that their sums overflow leave it undefined too:
        statistics are JSON, which has no NaN or infinity.
        """
        if self.attr_type == "TEXT":
            value = self._text_result()
        elif self.attr_type in ("NUMERIC", "BINARY") and not self.classes:
            value = pearson(*self.sums.tolist())
        elif self.attr_type == "CATEGORICAL" and self.classes:
            value = cramers_v(self.table)
        else:
            value = eta(self.groups)
        return value if value is not None and math.isfinite(value) else None

    def _text_result(self) -> float | None:
        ranked = sorted(self.words.items(), key=lambda item: (-item[1], item[0]))
        top = dict(ranked[:TEXT_WORDS])
        per_class: dict[str, Counter] = defaultdict(Counter)
        for (word, label), count in self.word_targets.items():
            if word in top:
                per_class[word][label] = count
        best = None
        for word, present in top.items():
            if self.classes:
                seen = per_class[word]
                table = {(1, c): k for c, k in seen.items()}
                table.update(
                    {(0, c): k - seen[c] for c, k in self.target_classes.items()}
                )
                value = cramers_v({key: k for key, k in table.items() if k})
            else:
                n, total, squares = self.target_total
                value = pearson(
                    n, present, total, present, squares, self.word_sums[word]
                )
            if value is not None and (best is None or value > best):
                best = value
        return best
