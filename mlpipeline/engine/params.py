"""Validate CreateMLModel training parameters (spec §12.2, §19.17).

Accepted keys are exactly the five ``sgd.*`` keys, all with string values.
Defaults follow the console and Developer Guide, which is what users saw:
model size ``104857600``, ``10`` passes, shuffle ``auto``, L1 ``0.0`` and
L2 ``1e-6``. [ENGINE] ``sgd.maxPasses`` accepts 1-10000 (the API range; the
Developer Guide says 1-100). L1 and L2 may not both be positive; when only
L1 is given a positive value, L2 defaults to ``0.0`` instead of ``1e-6``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.values import NUMBER

__all__ = ["TrainingParameters", "parse_parameters"]

SIZE_KEY = "sgd.maxMLModelSizeInBytes"
PASSES_KEY = "sgd.maxPasses"
SHUFFLE_KEY = "sgd.shuffleType"
L1_KEY = "sgd.l1RegularizationAmount"
L2_KEY = "sgd.l2RegularizationAmount"

_DEFAULTS = {
    L1_KEY: "0.0",
    L2_KEY: "1e-6",
    SIZE_KEY: "104857600",
    PASSES_KEY: "10",
    SHUFFLE_KEY: "auto",
}
_DIGITS = re.compile(r"[0-9]{1,10}")
_INT_RANGES = {SIZE_KEY: (100000, 2147483648), PASSES_KEY: (1, 10000)}


@dataclass(frozen=True)
class TrainingParameters:
    """Effective training parameters, parsed."""

    max_model_size: int
    max_passes: int
    shuffle: bool
    l1: float
    l2: float
    #: The effective values as strings, as GetMLModel echoes them.
    echo: dict[str, str]


def _fail(key: str, value: object, expected: str) -> InvalidInputException:
    return InvalidInputException(
        f"Training parameter {key!r} has value {value!r}; expected {expected}."
    )


def _integer(key: str, text: str) -> int:
    low, high = _INT_RANGES[key]
    expected = f"an integer between {low} and {high}"
    # int() would also take "5_0", " 5" and other scripts' digits (U+0665).
    if not _DIGITS.fullmatch(text):
        raise _fail(key, text, f"{expected} in ASCII digits")
    value = int(text)
    if not low <= value <= high:
        raise _fail(key, text, expected)
    return value


def _amount(key: str, text: str) -> float:
    expected = "a finite number >= 0 in decimal or scientific notation"
    if not NUMBER.fullmatch(text):
        raise _fail(key, text, expected)
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise _fail(key, text, expected)
    return value


def parse_parameters(given: dict[str, str] | None) -> TrainingParameters:
    """Validate ``Parameters`` and fill in the defaults.

    Parameters
    ----------
    given : dict of str to str or None
        The request's ``Parameters`` map.

    Returns
    -------
    TrainingParameters
        The effective values.

    Raises
    ------
    InvalidInputException
        On unknown keys, non-string values, values out of range, or both
        L1 and L2 positive.
    """
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise InvalidInputException(
            f"Parameters must be a map of strings, got {type(given).__name__}."
        )
    for key, value in given.items():
        if key not in _DEFAULTS:
            accepted = ", ".join(sorted(_DEFAULTS))
            raise InvalidInputException(
                f"Unknown training parameter {key!r}; accepted keys are {accepted}."
            )
        if not isinstance(value, str):
            raise _fail(key, value, "a string")
    echo = {**_DEFAULTS, **given}
    if L2_KEY not in given and _amount(L1_KEY, echo[L1_KEY]) > 0:
        echo[L2_KEY] = "0.0"

    shuffle = echo[SHUFFLE_KEY]
    if shuffle not in ("auto", "none"):
        raise _fail(SHUFFLE_KEY, shuffle, "'auto' or 'none'")
    l1, l2 = _amount(L1_KEY, echo[L1_KEY]), _amount(L2_KEY, echo[L2_KEY])
    if l1 > 0 and l2 > 0:
        raise InvalidInputException(
            f"Training parameters {L1_KEY!r} ({echo[L1_KEY]}) and {L2_KEY!r} "
            f"({echo[L2_KEY]}) are both positive; set one of them to 0."
        )
    return TrainingParameters(
        max_model_size=_integer(SIZE_KEY, echo[SIZE_KEY]),
        max_passes=_integer(PASSES_KEY, echo[PASSES_KEY]),
        shuffle=shuffle == "auto",
        l1=l1,
        l2=l2,
        echo={"algorithm": "sgd", **dict(sorted(echo.items()))},
    )
