"""Feature expanders: turn one extracted attribute into several features.

An expander reads the string value of one source attribute of a row and
returns the string values of the attributes it declares. The transform step
replaces the source column by those columns (the source is kept as well when
``keep_source`` is true). Subclass :class:`Expander` and override
:meth:`Expander.attributes` and :meth:`Expander.expand`.

The transform step calls :meth:`Expander.expand_batch` with a batch of
values at a time; its default calls ``expand`` once per distinct value, and
an expander can override it with a vectorised version that gives the same
strings.
"""

from __future__ import annotations

import datetime
import string
from collections.abc import Sequence

import numpy as np

from mlpipeline.exceptions import DataError

__all__ = ["DatePartsExpander", "Expander", "LongIdExpander", "TimePartsExpander"]

_BASE36_DIGITS = string.digits + string.ascii_uppercase
_BASE36_VALUE = {char: str(value) for value, char in enumerate(_BASE36_DIGITS)}

# Lookup tables of the vectorised LongIdExpander: the base-36 value of each
# code point below 128 (-1 when it is not a digit, and for every code point
# from 128 on), and the text of each value, 36 standing for a missing digit.
_DIGIT_OF_POINT = np.full(129, -1, dtype=np.int64)
for _value, _char in enumerate(_BASE36_DIGITS):
    _DIGIT_OF_POINT[ord(_char)] = _value
_DIGIT_TEXT = np.array([*(str(v) for v in range(36)), ""], dtype=object)
_LENGTH_TEXT = np.array([str(n) for n in range(1001)], dtype=object)
_MAX_BATCH_DIGITS = 1000


class Expander:
    """Expand the attribute ``source`` into the attributes of ``attributes``.

    Override :meth:`attributes` to declare the output columns with their
    Amazon ML types, and :meth:`expand` to compute them from one value.
    ``expand`` gets ``""`` for a missing value and must return one string
    per declared attribute, ``""`` meaning missing. It raises
    :class:`~mlpipeline.exceptions.DataError` naming the value for input it
    cannot expand.
    """

    keep_source = False

    def __init__(self, source: str, *, prefix: str | None = None) -> None:
        self.source = source
        self.prefix = source if prefix is None else prefix

    def attributes(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def expand(self, value: str) -> Sequence[str]:
        raise NotImplementedError

    def expand_batch(self, values: Sequence[str]) -> list[Sequence[str]]:
        """Return the output columns for a batch of ``values``.

        The result holds one sequence per declared attribute, each as long
        as ``values``, equal to what :meth:`expand` gives value by value.
        Raise :class:`~mlpipeline.exceptions.DataError` as ``expand`` does;
        the caller then expands the batch value by value to name the row.
        """
        width = len(self.attributes())
        cache: dict[str, Sequence[str]] = {}
        rows = []
        for value in values:
            expanded = cache.get(value)
            if expanded is None:
                expanded = cache[value] = self.expand(value)
                if len(expanded) != width:
                    raise DataError(
                        f"{self!r} returned {len(expanded)} values for "
                        f"{value!r}; it declares {width} attributes."
                    )
            rows.append(expanded)
        if not rows:
            return [[] for _ in range(width)]
        return [list(column) for column in zip(*rows, strict=True)]

    def name(self, part: str) -> str:
        """Return the output attribute called ``part`` of this expander."""
        return f"{self.prefix}_{part}" if self.prefix else part

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


class LongIdExpander(Expander):
    """Expand a long identifier such as ``WXY5678`` into base-36 features.

    The outputs are ``length`` (characters in the id), ``base_10`` (the whole
    id read as a base-36 number) and ``digit_1`` ... ``digit_N``: the value
    of each character in base 36 (``0``-``9`` are 0-9, ``A``-``Z`` 10-35).
    Ids shorter than ``digits`` leave the remaining digits missing. Letters
    are read case-insensitively and the separators in ``separators`` are
    skipped, so ``ab-12`` and ``AB12`` expand alike.

    The digits are CATEGORICAL by default: a character's value is a code,
    not a quantity, and binning neighbouring codes together would merge
    unrelated characters. Pass ``digit_type="NUMERIC"`` to treat them as
    numbers.
    """

    def __init__(
        self,
        source: str,
        *,
        digits: int = 20,
        digit_type: str = "CATEGORICAL",
        separators: str = "-_ /.",
        prefix: str | None = None,
    ) -> None:
        super().__init__(source, prefix=prefix)
        if digits < 1:
            raise ValueError(f"digits must be at least 1, not {digits!r}.")
        if digit_type not in ("CATEGORICAL", "NUMERIC"):
            raise ValueError(
                f"digit_type must be 'CATEGORICAL' or 'NUMERIC', not {digit_type!r}."
            )
        self.digits = digits
        self.digit_type = digit_type
        self._drop = str.maketrans("", "", separators)

    def attributes(self) -> list[tuple[str, str]]:
        columns = [(self.name("length"), "NUMERIC"), (self.name("base_10"), "NUMERIC")]
        for position in range(1, self.digits + 1):
            columns.append((self.name(f"digit_{position}"), self.digit_type))
        return columns

    def expand(self, value: str) -> list[str]:
        text = value.translate(self._drop).upper()
        if not text:
            return [""] * (self.digits + 2)
        try:
            values = [_BASE36_VALUE[char] for char in text]
        except KeyError as err:
            raise DataError(
                f"{self.source} value {value!r} holds {err.args[0]!r}, which is "
                "not a base-36 digit (0-9, A-Z)."
            ) from None
        if len(values) > self.digits:
            raise DataError(
                f"{self.source} value {value!r} has {len(values)} characters, more "
                f"than the {self.digits} digits its LongIdExpander keeps; raise "
                "digits."
            )
        padding = [""] * (self.digits - len(values))
        return [str(len(values)), str(int(text, 36)), *values, *padding]

    def expand_batch(self, values: Sequence[str]) -> list[Sequence[str]]:
        """Return the output columns for a batch, computed with numpy.

        The base-36 value is still read by :func:`int` per id, since it
        outgrows 64 bits past 12 characters.
        """
        if self.digits > _MAX_BATCH_DIGITS:
            return super().expand_batch(values)
        texts = [value.translate(self._drop).upper() for value in values]
        if not texts:
            return [[] for _ in range(self.digits + 2)]
        if max(map(len, texts)) > self.digits or "\x00" in "".join(texts):
            raise DataError(f"{self.source} holds an id that cannot be expanded.")
        codes = np.array(texts, dtype=f"<U{self.digits}")
        points = codes.view(np.uint32).reshape(len(texts), self.digits)
        digits = _DIGIT_OF_POINT[np.minimum(points, 128)]
        lengths = np.count_nonzero(points, axis=1)
        if (digits[points > 0] < 0).any():
            raise DataError(f"{self.source} holds a character that is not base 36.")
        digits[points == 0] = 36  # past the end of the id: missing
        columns: list[Sequence[str]] = [
            _LENGTH_TEXT[: self.digits + 1][lengths].tolist(),
            ["" if not text else str(int(text, 36)) for text in texts],
        ]
        columns.extend(_DIGIT_TEXT[digits].T.tolist())
        for row in np.flatnonzero(lengths == 0).tolist():
            columns[0][row] = ""
        return columns


class DatePartsExpander(Expander):
    """Expand an ISO date or datetime into year, month and weekday.

    ``year`` is NUMERIC; ``month`` (1-12) and ``weekday`` (1 = Monday) are
    CATEGORICAL, since seasons and weekdays are cycles rather than amounts.
    """

    def attributes(self) -> list[tuple[str, str]]:
        return [
            (self.name("year"), "NUMERIC"),
            (self.name("month"), "CATEGORICAL"),
            (self.name("weekday"), "CATEGORICAL"),
        ]

    def expand(self, value: str) -> list[str]:
        if not value:
            return ["", "", ""]
        try:
            day = datetime.date.fromisoformat(value[:10])
        except ValueError:
            raise DataError(
                f"{self.source} value {value!r} is not an ISO date (YYYY-MM-DD)."
            ) from None
        return [str(day.year), str(day.month), str(day.isoweekday())]


class TimePartsExpander(Expander):
    """Expand an ISO time of day into its hour and its minute of the day.

    ``hour`` (0-23) is CATEGORICAL, a cycle like the weekday; ``minute``
    (0-1439, minutes since midnight) is NUMERIC, for finer effects.
    """

    def attributes(self) -> list[tuple[str, str]]:
        return [(self.name("hour"), "CATEGORICAL"), (self.name("minute"), "NUMERIC")]

    def expand(self, value: str) -> list[str]:
        if not value:
            return ["", ""]
        try:
            moment = datetime.time.fromisoformat(value)
        except ValueError:
            raise DataError(
                f"{self.source} value {value!r} is not an ISO time (HH:MM:SS)."
            ) from None
        return [str(moment.hour), str(moment.hour * 60 + moment.minute)]
