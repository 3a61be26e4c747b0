"""Token transformations used by recipes (spec §11.2, §19.15).

Text is split on whitespace only. A token list is the value of a TEXT
expression; a categorical value counts as a single token where a function
combines tokens.
"""

from __future__ import annotations

import re

__all__ = ["cartesian", "ngrams", "no_punct", "osb", "tokenize"]

# Anything that is not a letter or a digit, at either end of a token.
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def tokenize(text: str) -> list[str]:
    """Split ``text`` on runs of whitespace."""
    return text.split()


def ngrams(tokens: list[str], n: int) -> list[str]:
    """Return every word n-gram of sizes 1 to ``n``, joined by one space.

    Examples
    --------
    >>> ngrams(["red,", "green,", "blue"], 2)
    ['red,', 'green,', 'blue', 'red, green,', 'green, blue']
    """
    grams = list(tokens)
    for size in range(2, n + 1):
        grams.extend(
            " ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)
        )
    return grams


def osb(tokens: list[str], window: int) -> list[str]:
    """Return the orthogonal sparse bigrams of ``tokens`` for a window size.

    Each token is paired with each of the next ``window - 1`` tokens; a pair
    ``k`` positions apart is joined by ``k`` underscores. Windows shrink at
    the end of the text.

    Examples
    --------
    >>> osb(["I", "really", "enjoyed"], 3)
    ['I_really', 'I__enjoyed', 'really_enjoyed']
    """
    pairs = []
    for i, first in enumerate(tokens):
        for k in range(1, window):
            if i + k >= len(tokens):
                break
            pairs.append(first + "_" * k + tokens[i + k])
    return pairs


def no_punct(tokens: list[str]) -> list[str]:
    """Strip punctuation from both ends of each token; drop emptied tokens."""
    stripped = (_EDGE_PUNCT.sub("", token) for token in tokens)
    return [token for token in stripped if token]


def cartesian(left: list[str], right: list[str]) -> list[str]:
    """Pair every token of ``left`` with every token of ``right`` by ``_``."""
    return [f"{a}_{b}" for a in left for b in right]
