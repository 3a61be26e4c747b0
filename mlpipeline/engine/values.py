"""Parse CSV cells into typed values, one column at a time.

Cell rules (spec §19.1-4 and §19.6):

* BINARY: surrounding whitespace stripped, case ignored; ``1 y yes t true``
  give 1, ``0 n no f false`` give 0, an empty cell is missing and anything
  else is invalid.
* NUMERIC: decimal or scientific notation after stripping (``"1.5"``,
  ``"-2e3"``, ``".5"``); ``nan``, ``inf``, values overflowing to infinity
  and other text are invalid; an empty cell is missing.
* CATEGORICAL: the exact cell string is the category; only an empty cell is
  missing.
* TEXT: the cell split on whitespace; a cell without tokens is missing.

Numeric and binary columns are float arrays with NaN where the value is
missing or invalid, together with a status array telling the two apart.
Categorical and text columns are lists holding ``None`` where missing.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ATTRIBUTE_TYPES",
    "INVALID",
    "MISSING",
    "NUMBER",
    "OK",
    "Column",
    "Table",
    "build_table",
    "parse_binary",
    "parse_column",
    "parse_numeric",
    "pick",
    "table_of_columns",
]

ATTRIBUTE_TYPES = ("BINARY", "CATEGORICAL", "NUMERIC", "TEXT")

OK, MISSING, INVALID = 0, 1, 2

_TRUE = frozenset({"1", "y", "yes", "t", "true"})
_FALSE = frozenset({"0", "n", "no", "f", "false"})
_NO_STATUS = np.zeros(0, np.int8)
_NO_VALUES = np.zeros(0)
# ASCII digits only: float() also reads other scripts' digits (U+0665).
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# Cells joined by newlines, each a NUMBER. The groups are atomic, so a
# failing match never retries other splits of the cells before it.
_NUMBERS = re.compile(rf"(?>(?>{NUMBER.pattern})\n)*+(?>{NUMBER.pattern})", re.ASCII)


def parse_binary(cell: str) -> tuple[float, int]:
    """Return ``(value, status)`` for one BINARY cell; value NaN unless OK."""
    text = cell.strip().lower()
    if not text:
        return math.nan, MISSING
    if text in _TRUE:
        return 1.0, OK
    if text in _FALSE:
        return 0.0, OK
    return math.nan, INVALID


def parse_numeric(cell: str) -> tuple[float, int]:
    """Return ``(value, status)`` for one NUMERIC cell; value NaN unless OK."""
    text = cell.strip()
    if not text:
        return math.nan, MISSING
    if NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return value, OK
    return math.nan, INVALID


@dataclass
class Column:
    """One attribute's parsed values for a block of records.

    ``values`` is a float array for NUMERIC and BINARY, else a list of
    strings (``None`` where missing). ``status`` holds OK, MISSING or
    INVALID per record.
    """

    type: str
    values: Any
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.status)


def parse_column(cells: Sequence[str | None], attr_type: str) -> Column:
    """Parse the cells of one attribute; ``None`` cells are missing.

    Parameters
    ----------
    cells : sequence of str or None
        Raw cell strings, one per record.
    attr_type : {"BINARY", "CATEGORICAL", "NUMERIC", "TEXT"}
        Declared type of the attribute.

    Returns
    -------
    Column
        The typed values and per-record status.
    """
    if attr_type == "NUMERIC":
        bulk = _bulk_numeric(cells)
        if bulk is not None:
            return bulk
    if attr_type in ("NUMERIC", "BINARY"):
        return _parse_by_spelling(cells, attr_type)
    if attr_type == "CATEGORICAL":
        if None not in cells and "" not in cells:
            values = list(cells)
            return Column(attr_type, values, np.zeros(len(values), np.int8))
        values = [cell if cell else None for cell in cells]
    elif attr_type == "TEXT":
        values = [cell if cell and not cell.isspace() else None for cell in cells]
    else:
        raise ValueError(f"Unknown attribute type {attr_type!r}.")
    # MISSING is 1 and OK 0: a missing value is one that is not truthy.
    missing = np.fromiter(map(operator.not_, values), bool, len(values))
    return Column(attr_type, values, missing.view(np.int8))


def _parse_by_spelling(cells: Sequence[str | None], attr_type: str) -> Column:
    """Parse NUMERIC or BINARY cells one distinct spelling at a time."""
    parse = parse_numeric if attr_type == "NUMERIC" else parse_binary
    # Real columns repeat a few spellings many times, so each distinct cell
    # is parsed once and the cells are then looked up.
    parsed = {cell: parse(cell) for cell in dict.fromkeys(cells) if cell is not None}
    parsed[None] = (math.nan, MISSING)
    values = {cell: found[0] for cell, found in parsed.items()}
    status = {cell: found[1] for cell, found in parsed.items()}
    n = len(cells)
    return Column(
        attr_type,
        np.fromiter(map(values.__getitem__, cells), float, n),
        np.fromiter(map(status.__getitem__, cells), np.int8, n),
    )


def _bulk_numeric(cells: Sequence[str | None]) -> Column | None:
    """Parse NUMERIC cells in one go, or return ``None`` if it cannot.

    It can when every cell is a number as :data:`NUMBER` spells it, with
    no surrounding space (checked by one match over the joined cells);
    ``float`` then reads each exactly as :func:`parse_numeric` would.
    """
    if not cells or None in cells:
        return None
    text = "\n".join(cells)  # type: ignore[arg-type]
    # A cell holding a line break would pass as two numbers.
    if text.count("\n") != len(cells) - 1 or not _NUMBERS.fullmatch(text):
        return None
    values = np.fromiter(map(float, cells), float, len(cells))  # type: ignore[arg-type]
    finite = np.isfinite(values)
    status = np.zeros(len(values), np.int8)
    if not finite.all():
        # Overflowing spellings ("1e999") are invalid.
        values[~finite] = math.nan
        status[~finite] = INVALID
    return Column("NUMERIC", values, status)


def pick(values: Sequence[Any], index: Sequence[int] | np.ndarray) -> list[Any]:
    """Return ``[values[i] for i in index]``, looked up in C."""
    if len(index) == 0:
        return []
    if len(index) == 1:
        return [values[int(index[0])]]
    return list(operator.itemgetter(*np.asarray(index).tolist())(values))


class Table:
    """Typed columns of a block of records, keyed by attribute name."""

    def __init__(self, columns: dict[str, Column], n_rows: int) -> None:
        self.columns = columns
        self.n_rows = n_rows

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    @classmethod
    def concat(cls, tables: Iterable[Table], types: dict[str, str]) -> Table:
        """Stack tables holding the same attributes, in order."""
        tables = list(tables)
        n_rows = sum(t.n_rows for t in tables)
        columns = {}
        for name, attr_type in types.items():
            parts = [t[name] for t in tables]
            status = np.concatenate([p.status for p in parts] + [_NO_STATUS])
            if attr_type in ("NUMERIC", "BINARY"):
                values: Any = np.concatenate([p.values for p in parts] + [_NO_VALUES])
            else:
                values = [v for p in parts for v in p.values]
            columns[name] = Column(attr_type, values, status)
        return cls(columns, n_rows)

    def select(self, mask: np.ndarray) -> Table:
        """Return the records where the boolean ``mask`` is true.

        When the mask keeps every record, the new table shares the columns
        of this one (columns are never changed in place).
        """
        index = np.flatnonzero(mask)
        if len(index) == self.n_rows:
            # Nothing is left out (the usual case): share the columns.
            return Table(dict(self.columns), self.n_rows)
        columns = {}
        for name, col in self.columns.items():
            if isinstance(col.values, np.ndarray):
                values: Any = col.values[index]
            else:
                values = pick(col.values, index)
            columns[name] = Column(col.type, values, col.status[index])
        return Table(columns, len(index))


def build_table(
    rows: Sequence[Sequence[str]],
    positions: dict[str, int | None],
    types: dict[str, str],
) -> Table:
    """Parse the wanted attributes of ``rows`` into a :class:`Table`.

    Parameters
    ----------
    rows : sequence of sequences of str
        Records as lists of cells, all of the right length.
    positions : dict
        Attribute name to its field index in the rows, or ``None`` when the
        file lacks that attribute (every value is then missing).
    types : dict
        Attribute name to the type used for parsing; only these attributes
        are parsed.
    """
    columns = {}
    n_rows = len(rows)
    for name, attr_type in types.items():
        pos = positions.get(name)
        cells: Sequence[str | None]
        cells = [None] * n_rows if pos is None else [row[pos] for row in rows]
        columns[name] = parse_column(cells, attr_type)
    return Table(columns, n_rows)


def table_of_columns(
    columns: Sequence[Sequence[str]],
    n_rows: int,
    positions: dict[str, int | None],
    types: dict[str, str],
) -> Table:
    """Parse the wanted attributes of records given by column.

    As :func:`build_table`, with ``columns[i]`` holding field ``i`` of
    each of the ``n_rows`` records.
    """
    table = {}
    for name, attr_type in types.items():
        pos = positions.get(name)
        cells: Sequence[str | None]
        cells = [None] * n_rows if pos is None else columns[pos]
        table[name] = parse_column(cells, attr_type)
    return Table(table, n_rows)
