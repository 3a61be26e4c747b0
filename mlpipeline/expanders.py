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
import operator
import string
from collections.abc import Sequence

import numpy as np

from mlpipeline.exceptions import DataError

__all__ = ["DatePartsExpander", "Expander", "LongIdExpander", "TimePartsExpander"]

_BASE36_DIGITS = string.digits + string.ascii_uppercase
_BASE36_VALUE = {char: str(value) for value, char in enumerate(_BASE36_DIGITS)}

# Lookup tables of the vectorised LongIdExpander: the base-36 value of each
# code point below 128, letters in either case (36 for code point 0, which
# pads ids: a missing digit; 37 when it is not a digit, and for every code
# point from 128 on), and the text of each value.
_NOT_A_DIGIT = 37
_DIGIT_CODE = np.full(129, _NOT_A_DIGIT, dtype=np.uint8)
_DIGIT_CODE[0] = 36
for _value, _char in enumerate(_BASE36_DIGITS):
    _DIGIT_CODE[[ord(_char), ord(_char.lower())]] = _value
_DIGIT_TEXT = np.array([*(str(v) for v in range(36)), "", None], dtype=object)
_LENGTH_TEXT = np.array([str(n) for n in range(1001)], dtype=object)
_MAX_BATCH_DIGITS = 1000
_MAX_DAYS_KEPT = 20_000
_FIRST_TEN = operator.itemgetter(slice(10))


def _code_points(texts: Sequence[str], width: int | None) -> np.ndarray:
    """Return the code points of ``texts``, shape (n, w), zero-padded.

    ``w`` is the longest text's length, or ``width`` if that is larger.
    """
    codes = np.array(texts, dtype=str)
    if width is not None and codes.dtype.itemsize // 4 < width:
        codes = codes.astype(f"<U{width}")
    size = max(codes.dtype.itemsize // 4, 1)
    if codes.dtype.itemsize == 0:
        return np.zeros((len(texts), size), dtype=np.uint32)
    return codes.view(np.uint32).reshape(len(texts), size)


def _texts_of_points(points: np.ndarray) -> list[str]:
    """Return the texts whose zero-padded code points are ``points``."""
    width = points.shape[1]
    return np.ascontiguousarray(points).view(f"<U{width}").ravel().tolist()


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
        self._separators = separators
        self._separator_table = np.zeros(128, dtype=bool)
        self._separator_table[[ord(c) for c in separators if c.isascii()]] = True

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

        For a batch of ASCII ids, separators are dropped on the code points
        of the whole batch and letters read in either case; a batch holding
        any other character goes through :meth:`str.translate` and
        :meth:`str.upper` value by value, since some non-ASCII letters
        raise to ASCII ones. The base-36 value is still read by :func:`int`
        per id, since it outgrows 64 bits past 12 characters.
        """
        if self.digits > _MAX_BATCH_DIGITS:
            return super().expand_batch(values)
        if not len(values):
            return [[] for _ in range(self.digits + 2)]
        joined = "".join(values)
        if "\x00" in joined:
            raise DataError(f"{self.source} holds an id that cannot be expanded.")
        if joined.isascii():
            points = _code_points(values, None)
            if any(separator in joined for separator in self._separators):
                points = self._without_separators(points)
        else:
            texts = [value.translate(self._drop).upper() for value in values]
            points = _code_points(texts, self.digits)
        lengths = np.count_nonzero(points, axis=1)
        if lengths.max() > self.digits:
            raise DataError(f"{self.source} holds an id that cannot be expanded.")
        if points.shape[1] < self.digits:
            points = np.pad(points, ((0, 0), (0, self.digits - points.shape[1])))
        points = points[:, : self.digits]
        # One row per digit position, so that each output column is one
        # contiguous lookup.
        digits = _DIGIT_CODE[np.minimum(points.T, 128)]
        if (digits == _NOT_A_DIGIT).any():
            raise DataError(f"{self.source} holds a character that is not base 36.")
        texts = _texts_of_points(points)
        columns: list[Sequence[str]] = [
            _LENGTH_TEXT[: self.digits + 1][lengths].tolist(),
            ["" if not text else str(int(text, 36)) for text in texts],
        ]
        columns.extend(_DIGIT_TEXT.take(row).tolist() for row in digits)
        for row in np.flatnonzero(lengths == 0).tolist():
            columns[0][row] = ""
        return columns

    def _without_separators(self, points: np.ndarray) -> np.ndarray:
        """Return ASCII code points with the separators' dropped.

        Shape (n, w): each id's remaining points from the left, zero past
        its end.
        """
        kept = (points > 0) & ~self._separator_table[points]
        # A stable sort of "not kept" moves each row's kept points to its
        # front, in order.
        order = np.argsort(~kept, axis=1, kind="stable")
        points = np.take_along_axis(points, order, axis=1)
        points[~np.take_along_axis(kept, order, axis=1)] = 0
        return points


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

    def __init__(self, source: str, *, prefix: str | None = None) -> None:
        super().__init__(source, prefix=prefix)
        self._parts: tuple[dict[str, str], ...] = ({}, {}, {})

    def expand_batch(self, values: Sequence[str]) -> list[Sequence[str]]:
        """Return the output columns for a batch, reusing earlier results.

        The parts depend on a value's first ten characters only, and a
        table holds few distinct days, so the parts of each day are kept
        from batch to batch (up to 20,000 days, then forgotten at once) and
        each output column is one lookup per value. A subclass that
        overrides :meth:`expand` gets the default batch instead.
        """
        if type(self).expand is not DatePartsExpander.expand:
            return super().expand_batch(values)
        days = list(map(_FIRST_TEN, values))
        years, months, weekdays = self._parts
        missing = set(days).difference(years)
        if len(years) + len(missing) > _MAX_DAYS_KEPT:
            for parts in self._parts:
                parts.clear()
        for day in missing:
            try:
                years[day], months[day], weekdays[day] = self.expand(day)
            except DataError:
                # Raise the error naming the whole value, not its day.
                self.expand(next(value for value in values if value[:10] == day))
                raise
        return [list(map(parts.__getitem__, days)) for parts in self._parts]

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
