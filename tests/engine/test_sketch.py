import numpy as np

from mlpipeline.engine.sketch import DistinctSketch, FrequentValues, ValueSketch


def test_value_sketch_is_exact_below_capacity():
    values = np.random.default_rng(1).normal(size=1000)
    sketch = ValueSketch(capacity=1000)
    for part in np.array_split(values, 7):
        sketch.add(part)

    assert sketch.exact
    assert sketch.median() == float(np.median(values))
    assert sketch.mean() == float(values.mean())
    counts, edges = sketch.histogram(10)
    expected_counts, expected_edges = np.histogram(values, bins=10)
    assert counts.tolist() == expected_counts.tolist()
    assert edges.tolist() == expected_edges.tolist()


def test_value_sketch_samples_past_capacity_within_its_rank_bound():
    values = np.random.default_rng(2).exponential(size=200_000)
    sketch = ValueSketch(capacity=20_000)
    for part in np.array_split(values, 50):
        sketch.add(part)

    assert not sketch.exact
    assert len(sketch.values()) == 20_000
    probabilities = np.arange(1, 10) / 10
    ranks = np.searchsorted(np.sort(values), sketch.quantiles(probabilities))
    assert np.abs(ranks / len(values) - probabilities).max() < 0.02
    counts, edges = sketch.histogram(10)
    assert counts.sum() == 200_000
    assert edges[0] == values.min() and edges[-1] == values.max()


def test_value_sketch_is_deterministic():
    values = np.random.default_rng(3).normal(size=50_000)
    first, second = ValueSketch(capacity=5000), ValueSketch(capacity=5000)
    for sketch in (first, second):
        for part in np.array_split(values, 9):
            sketch.add(part)
    assert np.array_equal(np.sort(first.values()), np.sort(second.values()))


def test_distinct_sketch_is_exact_then_estimates():
    small = DistinctSketch(capacity=100)
    small.add(np.array([1.0, 2.0, 2.0, -0.0, 0.0]))
    assert small.count() == 3

    large = DistinctSketch(capacity=4096)
    for part in np.array_split(np.arange(100_000, dtype=float), 13):
        large.add(np.concatenate([part, part]))
    assert abs(large.count() - 100_000) < 100_000 * 0.05


def test_frequent_values_count_exactly_below_capacity():
    values = FrequentValues(capacity=10)
    values.update(["a", "b", "a"])
    values.update(["c", "a", "b"] * 3)

    assert values.exact
    assert values.counts == {"a": 5, "b": 4, "c": 3}
    assert values.distinct() == 3


def test_frequent_values_keep_the_frequent_past_capacity_within_the_bound():
    """100,000 strings, 40,000 of them distinct, in a summary of 1,000: the
    frequent ones are kept with counts at most N / 1,001 = 99 short, and
    the distinct count is estimated within 5 %."""
    rng = np.random.default_rng(4)
    heavy = [f"heavy-{i}" for i in range(5)]
    stream = [heavy[i % 5] for i in range(40_000)]
    stream += [f"id-{i}" for i in rng.permutation(60_000) % 39_995]
    rng.shuffle(stream)
    values = FrequentValues(capacity=1000)
    for start in range(0, len(stream), 2048):
        values.update(stream[start : start + 2048])

    assert not values.exact
    assert len(values.counts) <= 2000
    for name in heavy:
        assert 8000 - 99 <= values.counts[name] <= 8000
    assert abs(values.distinct() - 40_000) < 40_000 * 0.05
