"""Select the records of a data source from its DataRearrangement (spec §9).

[ENGINE] rules (spec §19.7-10), where AWS published nothing:

* Sequential: with N data records (header excluded) and 0-based index i, a
  record is selected iff ``floor(N*pb/100) <= i < floor(N*pe/100)``.
* Random: a record starting at byte offset ``o`` of its file gets
  ``u = int.from_bytes(sha256(f"{seed}|{o}").digest()[:8], "big") / 2**64
  * 100`` and is selected iff ``pb <= u < pe``. The seed defaults to ``""``
  and may sit in ``strategyParams.randomSeed`` or directly under
  ``splitting``.
* ``complement`` (a bool, or the string "true"/"false" in any case) inverts
  the selection. Without ``percentBegin`` and ``percentEnd`` every record is
  selected; when only one is given the other defaults to 0 or 100.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mlpipeline.engine.errors import InvalidInputException, load_json_object

__all__ = ["Rearrangement", "parse_rearrangement", "random_percent"]

_SPLIT_KEYS = frozenset(
    {
        "percentBegin",
        "percentEnd",
        "complement",
        "strategy",
        "strategyParams",
        "randomSeed",
    }
)
_TWO_64 = 2**64


def random_percent(seed: str, offset: int) -> float:
    """Return the pseudo-random percentage in [0, 100) of one record.

    Parameters
    ----------
    seed : str
        The rearrangement's ``randomSeed``.
    offset : int
        Starting byte offset of the record in its file.
    """
    digest = hashlib.sha256(f"{seed}|{offset}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _TWO_64 * 100


@dataclass(frozen=True)
class Rearrangement:
    """A parsed DataRearrangement.

    ``begin`` and ``end`` are ``None`` when neither percentage was given,
    which selects every record.
    """

    begin: float | None = None
    end: float | None = None
    complement: bool = False
    strategy: str = "sequential"
    seed: str = ""

    @property
    def needs_count(self) -> bool:
        """Return whether selecting needs the number of records first."""
        return self.begin is not None and self.strategy == "sequential"

    def selector(self, n_records: int | None = None) -> Callable[[int, int], bool]:
        """Return ``select(index, offset) -> bool`` for records of one file.

        ``n_records`` (data records in the file) is required when
        :attr:`needs_count` is true.
        """
        flip = self.complement
        if self.begin is None or self.end is None:
            return lambda index, offset: not flip
        if self.strategy == "sequential":
            if n_records is None:
                raise ValueError("A sequential split needs the number of records.")
            # Fractions keep floor(N*p/100) exact for percentages like 70.
            first = math.floor(n_records * Fraction(str(self.begin)) / 100)
            stop = math.floor(n_records * Fraction(str(self.end)) / 100)
            return lambda index, offset: (first <= index < stop) != flip
        begin, end, seed = self.begin, self.end, self.seed
        return lambda index, offset: (
            (begin <= random_percent(seed, offset) < end) != flip
        )


def _fail(message: str) -> InvalidInputException:
    return InvalidInputException(f"DataRearrangement: {message}")


def _percent(splitting: dict[str, Any], key: str) -> float | None:
    value = splitting.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _fail(f"'{key}' must be a number, got {value!r}.") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"'{key}' must be a number, got {value!r}.")
    if not 0 <= value <= 100:
        raise _fail(f"'{key}' must be between 0 and 100, got {value!r}.")
    return value


def _flag(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _fail(f"'complement' must be true or false, got {value!r}.")


def _seed(splitting: dict[str, Any]) -> str:
    params = splitting.get("strategyParams")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise _fail(f"'strategyParams' must be an object, got {params!r}.")
    unknown = sorted(set(params) - {"randomSeed"})
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r} in 'strategyParams'.")
    seeds = [
        s
        for s in (params.get("randomSeed"), splitting.get("randomSeed"))
        if s is not None
    ]
    for seed in seeds:
        if not isinstance(seed, str):
            raise _fail(f"'randomSeed' must be a string, got {seed!r}.")
    if len(set(seeds)) > 1:
        raise _fail("'randomSeed' is given twice with different values.")
    return seeds[0] if seeds else ""


def parse_rearrangement(text: str | None) -> Rearrangement:
    """Parse and validate a DataRearrangement JSON string.

    Parameters
    ----------
    text : str or None
        The rearrangement; ``None`` or an empty string selects every record.

    Returns
    -------
    Rearrangement
        The parsed rule.

    Raises
    ------
    InvalidInputException
        On bad JSON, unknown keys, percentages outside 0-100,
        ``percentBegin`` > ``percentEnd`` or an unknown strategy.
    """
    if text is None or text == "":
        return Rearrangement()
    doc = load_json_object(text, "DataRearrangement")
    unknown = sorted(set(doc) - {"splitting"})
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r}; only 'splitting' is supported.")
    splitting = doc.get("splitting")
    splitting = {} if splitting is None else splitting
    if not isinstance(splitting, dict):
        raise _fail(f"'splitting' must be an object, got {splitting!r}.")
    unknown = sorted(set(splitting) - _SPLIT_KEYS)
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r} in 'splitting'.")

    strategy = splitting.get("strategy", "sequential")
    if strategy not in ("sequential", "random"):
        raise _fail(f"'strategy' must be 'sequential' or 'random', got {strategy!r}.")
    begin = _percent(splitting, "percentBegin")
    end = _percent(splitting, "percentEnd")
    if begin is not None or end is not None:
        begin = 0 if begin is None else begin
        end = 100 if end is None else end
        if begin > end:
            raise _fail(
                f"'percentBegin' ({begin}) may not be greater than "
                f"'percentEnd' ({end})."
            )
    return Rearrangement(
        begin=begin,
        end=end,
        complement=_flag(splitting.get("complement")),
        strategy=strategy,
        seed=_seed(splitting),
    )
