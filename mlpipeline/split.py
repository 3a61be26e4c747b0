"""The evaluation split: which rows a model trains on and which score it.

Every extracted row goes to the training or the evaluation side by its
primary key and the pipeline's seed, never by its place in the file, so a
row keeps its side from one run to the next while other rows come and go,
and this week's model is scored on the rows last week's was scored on
(plus the new ones that fall on that side). The rule, ``sha256(seed|pk)``:

* ``h`` is the first 8 bytes of ``sha256(f"{seed}|{pk}".encode("utf-8"))``
  read as a big-endian unsigned integer, which spreads the rows evenly over
  ``[0, 2**64)``; ``pk`` is the key as the extract step writes it (an
  integer in decimal, a UUID with its hyphens, a string as it is);
* the row evaluates when ``h * 100 >= train_percent * 2**64``, that is when
  ``h / 2**64 * 100`` (its place in ``[0, 100)``) is at least
  ``train_percent``, and trains otherwise. The comparison is done on
  integers, so no rounding moves a row.

The transform step writes each side to its own features file
(:func:`split_paths`) and the load step makes one data source of each file,
whole, on either backend: Amazon ML's DataRearrangement splits by position
and cannot express this rule.

A run records the rule it used (:meth:`SplitRule.as_dict`), and the
registry's gate compares two models' metrics knowing whether their
evaluation rows were chosen the same way.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from mlpipeline.exceptions import DataError

__all__ = [
    "METHOD",
    "PK_COLUMN",
    "SIDES",
    "SplitRule",
    "SplitWriter",
    "describe",
    "split_keys",
    "split_paths",
]

#: Name of the rule, recorded with every run that used it.
METHOD = "sha256(seed|pk)"
#: Header of the extracted rows' first column, the row's primary key. No
#: Django field can be named so, so it never clashes with a pipeline field.
PK_COLUMN = "(primary key)"
#: The two sides, in the order the load step makes their data sources.
SIDES = ("train", "evaluation")
_TWO_64 = 2**64


@dataclass(frozen=True)
class SplitRule:
    """Assign rows to a side by ``sha256(seed|pk)`` (see the module)."""

    seed: str
    #: Share of rows, in percent (1-99), on the training side.
    train_percent: int

    def side(self, pk: str) -> str:
        """Return ``"train"`` or ``"evaluation"`` for the key ``pk``."""
        return self.sides([pk])[0]

    def sides(self, pks: Iterable[str]) -> list[str]:
        """Return the side of each key of ``pks``, in order."""
        return [SIDES[found] for found in self.evaluates(pks).tolist()]

    def evaluates(self, pks: Iterable[str]) -> np.ndarray:
        """Return, per key of ``pks``, whether its row evaluates (bool array).

        Each key's first 8 digest bytes are gathered and compared at once:
        ``h * 100 >= train_percent * 2**64`` holds exactly when ``h`` is at
        least the ceiling of ``train_percent * 2**64 / 100``.
        """
        prefix = f"{self.seed}|".encode()
        sha256 = hashlib.sha256
        # Whole digests joined, then every fourth 8-byte word read: slicing
        # each digest to its first 8 bytes cost more than the copying.
        digests = b"".join([sha256(prefix + pk.encode()).digest() for pk in pks])
        least = -(-self.train_percent * _TWO_64 // 100)
        return np.frombuffer(digests, dtype=">u8")[::4] >= np.uint64(least)

    def as_dict(self) -> dict[str, Any]:
        """Return the rule as a run and a trained model record it."""
        return {
            "method": METHOD,
            "seed": self.seed,
            "train_percent": self.train_percent,
        }


def describe(rule: dict[str, Any] | None) -> str:
    """Return a recorded rule (:meth:`SplitRule.as_dict`) in words."""
    if not rule:
        return (
            "a seeded random split of the file's byte offsets (runs made before "
            "the split by primary key)"
        )
    return (
        f"{rule['method']} with seed {rule['seed']!r} and "
        f"{rule['train_percent']} % training rows"
    )


def split_paths(features_path: Path) -> dict[str, Path]:
    """Return the features file of each side, beside ``features_path``.

    ``features.csv`` gives ``features-train.csv`` and
    ``features-evaluation.csv``; the schema of both stays at
    :func:`mlpipeline.transform.schema_path` of ``features_path``.
    """
    return {
        side: features_path.with_name(
            f"{features_path.stem}-{side}{features_path.suffix}"
        )
        for side in SIDES
    }


def split_keys(batch: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Return the keys of a batch of extracted rows, and the rows without."""
    keys = [row[0] if row else "" for row in batch]
    return keys, [row[1:] for row in batch]


class SplitWriter:
    """Write features rows to the two side files of ``features_path``.

    Both files get ``header`` first. Use as a context manager; afterwards
    :attr:`rows` holds how many rows each side got.
    """

    def __init__(
        self, features_path: Path, rule: SplitRule, header: Sequence[str]
    ) -> None:
        self.paths = split_paths(features_path)
        self.rule = rule
        self.header = list(header)
        self.rows = dict.fromkeys(SIDES, 0)
        self._files: dict[str, Any] = {}
        self._writers: dict[str, Any] = {}

    def __enter__(self) -> SplitWriter:
        for side, path in self.paths.items():
            handle = open(path, "w", newline="", encoding="utf-8")
            self._files[side] = handle
            self._writers[side] = csv.writer(handle, lineterminator="\n")
            self._writers[side].writerow(self.header)
        return self

    def writecolumns(
        self, keys: Sequence[str], columns: Sequence[Sequence[str]]
    ) -> None:
        """Write the rows of ``columns`` to the sides their keys fall on.

        Rows of two or more cells none of which needs quoting are joined
        with commas directly, in half ``csv.writer``'s time; any other batch
        goes through ``csv.writer``. The bytes are the same.
        """
        evaluates = self.rule.evaluates(keys)
        lines = _plain_lines(columns)
        rows = list(zip(*columns, strict=True)) if lines is None else []
        for side, mask in zip(SIDES, (~evaluates, evaluates), strict=True):
            picked = mask.tolist()
            if lines is None:
                chosen: list[Any] = list(itertools.compress(rows, picked))
                self._writers[side].writerows(chosen)
            else:
                chosen = list(itertools.compress(lines, picked))
                if chosen:
                    self._files[side].write("\n".join(chosen) + "\n")
            self.rows[side] += len(chosen)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for handle in self._files.values():
            handle.close()

    def check(self, pipeline: str) -> None:
        """Raise :class:`DataError` when a side got no row."""
        for side, count in self.rows.items():
            if count == 0 and sum(self.rows.values()):
                raise DataError(
                    f"Pipeline {pipeline!r}: the split by primary key put none of "
                    f"its {sum(self.rows.values())} rows on the {side} side "
                    f"(train_percent {self.rule.train_percent}); add rows or "
                    "change train_percent."
                )


# A cell holding one of these is quoted by csv.writer (QUOTE_MINIMAL, with
# "\n" ending lines).
_QUOTED_CHARACTERS = ('"', ",", "\n", "\r")


def _plain_lines(columns: Sequence[Sequence[str]]) -> list[str] | None:
    """Return the rows of ``columns`` as CSV lines if no cell needs quoting.

    ``None`` otherwise; a lone cell is left to ``csv.writer`` too, which
    quotes it when empty.
    """
    if len(columns) < 2 or not all(map(_plain, columns)):
        return None
    try:
        return list(map(",".join, zip(*columns, strict=True)))
    except TypeError:
        return None  # a cell that is not a string, which the writer converts


def _plain(cells: Sequence[str]) -> bool:
    """Return whether no cell holds a character the CSV writer quotes."""
    try:
        text = "".join(cells)
    except TypeError:
        return False
    return not any(char in text for char in _QUOTED_CHARACTERS)
