"""Mergeable summaries of a numeric stream with memory bounded by a constant.

[ENGINE] accuracy rules:

* :class:`ValueSketch` keeps every value, in arrival order, while it has
  seen at most ``capacity`` (262,144) values, so medians, quantiles and
  histograms computed from it are exact, and identical to computing them
  on the whole column. Past that it keeps a uniform sample without
  replacement of ``capacity`` values: each value gets a random key from a
  generator with a fixed seed and the values with the smallest keys stay
  (a bottom-k sample, so two sketches merge into the sketch of both
  streams). By the Dvoretzky-Kiefer-Wolfowitz inequality the rank of a
  quantile read from the sample is within 0.5 % of the requested rank with
  probability at least 1 - 2 exp(-2 * 262144 * 0.005 ** 2) > 0.99999. The
  same data in the same order always gives the same sample.
* :class:`Moments` gives the mean and population standard deviation of
  every value seen, computed by numpy on all of them while there are at
  most ``capacity`` (262,144), then from running moments merged block by
  block (Chan et al.), which differ from the exact figures by rounding
  only.
* :class:`DistinctSketch` counts distinct values exactly up to ``capacity``
  (65,536) of them; past that it estimates the count from the k smallest
  64-bit hashes (the KMV estimator, relative standard error about
  1 / sqrt(65536) = 0.4 %).
* :class:`FrequentValues` counts strings exactly while at most
  ``capacity`` (65,536) distinct ones have been seen. Past that it keeps
  only the most frequent (a Misra-Gries summary, pruned in batches):
  whenever it holds more than twice ``capacity`` strings, the
  ``capacity + 1``-th largest count is subtracted from every count and the
  strings left at zero or below are dropped. A kept count is then at most
  ``N / (capacity + 1)`` below the true count of ``N`` strings, and every
  string more frequent than that is kept. Its distinct count is a
  :class:`DistinctSketch` of the strings' 64-bit BLAKE2b hashes.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

__all__ = ["DistinctSketch", "FrequentValues", "Moments", "ValueSketch", "mean_std"]

VALUE_CAPACITY = 1 << 18
DISTINCT_CAPACITY = 1 << 16
_SEED = 20150409  # fixed, so the same stream always gives the same sample


class ValueSketch:
    """Summarise a stream of finite floats for quantiles and histograms.

    Parameters
    ----------
    capacity : int, default 262144
        Values kept exactly before the sketch turns into a sample.

    Attributes
    ----------
    count : int
        Values seen.
    """

    def __init__(self, capacity: int = VALUE_CAPACITY) -> None:
        self.capacity = capacity
        self.count = 0
        self.total = 0.0
        self.minimum = np.inf
        self.maximum = -np.inf
        self._parts: list[np.ndarray] = []
        self._keys: np.ndarray | None = None
        self._values: np.ndarray | None = None
        self._rng = np.random.default_rng(_SEED)

    @property
    def exact(self) -> bool:
        """Return whether every value seen is still kept."""
        return self._keys is None

    def add(self, values: np.ndarray) -> None:
        """Add a 1-d array of finite values."""
        if not len(values):
            return
        self.count += len(values)
        self.total += float(values.sum())
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        if self._keys is None:
            self._parts.append(np.array(values, dtype=float))
            if self.count <= self.capacity:
                return
            values = np.concatenate(self._parts)
            self._parts = []
            self._keys = np.zeros(0)
            self._values = np.zeros(0)
        keys = self._rng.random(len(values))
        self._offer(keys, np.asarray(values, dtype=float))

    def _offer(self, keys: np.ndarray, values: np.ndarray) -> None:
        assert self._keys is not None and self._values is not None
        if len(self._keys) >= self.capacity:
            # Only keys below the current k-th smallest can enter.
            wanted = keys < self._keys.max()
            keys, values = keys[wanted], values[wanted]
        self._keys = np.concatenate([self._keys, keys])
        self._values = np.concatenate([self._values, values])
        if len(self._keys) > 2 * self.capacity or (
            len(self._keys) > self.capacity and len(keys) == 0
        ):
            self._compact()

    def _compact(self) -> None:
        assert self._keys is not None and self._values is not None
        if len(self._keys) > self.capacity:
            kept = np.argpartition(self._keys, self.capacity - 1)[: self.capacity]
            self._keys, self._values = self._keys[kept], self._values[kept]

    def values(self) -> np.ndarray:
        """Return the kept values: all of them in order, or the sample."""
        if self._keys is None:
            return np.concatenate([*self._parts, np.zeros(0)])
        self._compact()
        assert self._values is not None
        return self._values

    def mean(self) -> float:
        """Return the mean of every value seen (infinite if it overflows)."""
        if self.exact:
            return mean_std(self.values())[0]
        return self.total / self.count

    def median(self) -> float:
        """Return the median: exact like :func:`numpy.median`, or sampled."""
        if self.exact:
            return float(np.median(self.values()))
        return float(np.quantile(self.values(), 0.5))

    def quantiles(self, probabilities: np.ndarray) -> np.ndarray:
        """Return the quantiles at ``probabilities`` (linear interpolation)."""
        return np.quantile(self.values(), probabilities)

    def histogram(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(counts, edges)`` of ``bins`` equal-width bins.

        The edges span the exact minimum and maximum; past the capacity the
        counts are the sample's, scaled to :attr:`count` by largest
        remainder so that they add up to it.
        """
        values = self.values()
        low, high = self.minimum, self.maximum
        # A span above the float limit (values near -1e308 and 1e308) is
        # binned on the values halved, then the edges doubled back.
        scale = 1.0 if math.isfinite(high - low) else 2.0
        counts, edges = np.histogram(
            values / scale, bins=bins, range=(low / scale, high / scale)
        )
        edges = edges * scale
        if self.exact:
            return counts, edges
        share = counts * (self.count / counts.sum())
        scaled = np.floor(share).astype(np.int64)
        short = self.count - int(scaled.sum())
        scaled[np.argsort(scaled - share, kind="stable")[:short]] += 1
        return scaled, edges


def _hash(values: np.ndarray) -> np.ndarray:
    """Return a 64-bit mix (splitmix64) of the bits of float values."""
    x = np.ascontiguousarray(values, dtype=float).view(np.uint64).copy()
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


class DistinctSketch:
    """Count the distinct values of a stream of finite floats.

    Parameters
    ----------
    capacity : int, default 65536
        Distinct values counted exactly.
    """

    def __init__(self, capacity: int = DISTINCT_CAPACITY) -> None:
        self.capacity = capacity
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._saturated = False

    def add(self, values: np.ndarray) -> None:
        """Add a 1-d array of finite values."""
        if not len(values):
            return
        # -0.0 and 0.0 are one value.
        self.add_hashes(_hash(np.where(values == 0, 0.0, values)))

    def add_hashes(self, hashes: np.ndarray) -> None:
        """Add values by their uniformly spread 64-bit (uint64) hashes."""
        if not len(hashes):
            return
        if self._saturated:
            hashes = hashes[hashes < self._hashes[-1]]
        # The kept hashes are sorted and distinct: the new ones not among
        # them are inserted in place, as np.union1d would place them.
        new = np.unique(hashes)
        at = np.searchsorted(self._hashes, new)
        found = at < len(self._hashes)
        found[found] = self._hashes[at[found]] == new[found]
        merged = np.insert(self._hashes, at[~found], new[~found])
        if len(merged) > self.capacity:
            self._saturated = True
            merged = merged[: self.capacity]
        self._hashes = merged

    def count(self) -> int:
        """Return the number of distinct values, estimated past capacity."""
        if not self._saturated:
            return len(self._hashes)
        kth = float(self._hashes[-1]) / 2.0**64
        return round((self.capacity - 1) / kth)


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Return the mean and population deviation of finite ``values``.

    Values near the float limit (above about 1e154) overflow the sum or the
    squared deviations; those are then computed on the values divided by
    their largest magnitude and scaled back, so they stay finite unless the
    result itself exceeds the float range.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(values.mean()), float(values.std())
        if math.isfinite(mean) and math.isfinite(std):
            return mean, std
        scale = float(np.abs(values).max())
        scaled = values / scale
        return float(scaled.mean()) * scale, float(scaled.std()) * scale


class Moments:
    """Mean and population deviation of a stream of finite floats.

    Exact (numpy on every value) up to ``capacity`` values, then running
    count, mean and sum of squared deviations merged block by block.
    """

    def __init__(self, capacity: int = VALUE_CAPACITY) -> None:
        self.capacity = capacity
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self._parts: list[np.ndarray] | None = []

    def add(self, values: np.ndarray) -> None:
        """Add a 1-d array of finite values."""
        if not len(values):
            return
        if self._parts is not None:
            self._parts.append(np.array(values, dtype=float))
            if self.count + len(values) <= self.capacity:
                self.count += len(values)
                return
            values = np.concatenate(self._parts)
            self._parts = None
            self.count = 0
        with np.errstate(over="ignore"):
            n, mean = len(values), float(values.mean())
            m2 = float(((values - mean) ** 2).sum())
        if not (math.isfinite(mean) and math.isfinite(m2)):
            mean, std = mean_std(values)
            m2 = std * std * n  # infinite when the deviation passes 1e154
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def result(self) -> tuple[float, float]:
        """Return ``(mean, std)``; both 0 when nothing was seen."""
        if self._parts is not None:
            seen = np.concatenate([*self._parts, np.zeros(0)])
            if not len(seen):
                return 0.0, 0.0
            return mean_std(seen)
        return self.mean, float(np.sqrt(max(self.m2, 0.0) / self.count))


def _string_hashes(values: Iterable[str]) -> np.ndarray:
    """Return the 64-bit BLAKE2b hashes of strings (as uint64)."""
    digests = b"".join(
        hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        for value in values
    )
    return np.frombuffer(digests, dtype=np.uint64)


class FrequentValues:
    """Count a stream of strings, exactly or, past capacity, the frequent.

    Parameters
    ----------
    capacity : int, default 65536
        Distinct strings counted exactly; past that, about the number kept.

    Attributes
    ----------
    counts : Counter
        Every string and its count while :attr:`exact`; past that, the
        most frequent strings with their counts less at most
        ``N / (capacity + 1)``.
    """

    def __init__(self, capacity: int = DISTINCT_CAPACITY) -> None:
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self.exact = True
        self._distinct = DistinctSketch(capacity)

    def update(self, values: Iterable[str]) -> None:
        """Count the strings of ``values``."""
        block = Counter(values)
        if not self.exact:
            self._distinct.add_hashes(_string_hashes(block))
        self.counts.update(block)
        if len(self.counts) > 2 * self.capacity:
            self._prune()

    def distinct(self) -> int:
        """Return the number of distinct strings, estimated past capacity."""
        return len(self.counts) if self.exact else self._distinct.count()

    def _prune(self) -> None:
        if self.exact:
            # Every string seen so far is still counted: hash them once.
            self._distinct.add_hashes(_string_hashes(self.counts))
            self.exact = False
        counts = np.fromiter(self.counts.values(), np.int64, len(self.counts))
        place = len(counts) - self.capacity - 1
        cut = int(np.partition(counts, place)[place])
        self.counts = Counter(
            {value: count - cut for value, count in self.counts.items() if count > cut}
        )
