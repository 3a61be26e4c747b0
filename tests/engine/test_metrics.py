import numpy as np
import pytest

from mlpipeline.engine.metrics import (
    RankedScores,
    Residuals,
    ScoreHistogram,
    binary_auc,
    confusion_matrix,
    macro_f1,
    residual_histogram,
    rmse,
    score_histogram,
)


def test_auc_spec_example():
    assert binary_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_auc_counts_ties_as_half():
    assert binary_auc([0, 1], [0.5, 0.5]) == 0.5
    assert binary_auc([0, 0, 1], [0.2, 0.7, 0.7]) == 0.75


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = rng.integers(0, 10, 200) / 10
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert binary_auc(labels, scores) == pytest.approx(pairs.mean())


def test_auc_needs_two_classes():
    with pytest.raises(ValueError, match="both classes"):
        binary_auc([1, 1], [0.2, 0.3])


def test_macro_f1_spec_example():
    value = macro_f1(list("aabbc"), list("abbbc"))
    assert value == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)
    assert round(value, 6) == 0.822222


def test_majority_baseline_example():
    assert round(macro_f1(list("aaab"), list("aaaa")), 6) == 0.428571


def test_macro_f1_ignores_classes_only_predicted():
    assert macro_f1(["a", "a"], ["a", "z"]) == pytest.approx(2 / 3)


def test_rmse_spec_example():
    assert round(rmse(np.array([1, 2, 3]), np.array([1, 2, 5])), 7) == 1.1547005


def test_confusion_matrix_rows_are_truth():
    assert confusion_matrix(list("aabbc"), list("abbbc"), ["a", "b", "c", "d"]) == [
        [1, 1, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 0],
    ]


def _ranked(labels, scores, **options):
    ranked = RankedScores(**options)
    for start in range(0, len(labels), 7):
        ranked.add(labels[start : start + 7] == 1, scores[start : start + 7])
    return ranked


@pytest.mark.parametrize("levels", [0, 3, 40])
def test_auc_of_runs_sorted_on_disk_equals_the_auc_in_memory(levels, tmp_path):
    """Runs of 56 scores (blocks of 7) merged 4 at a time give the AUC
    computed in memory, to the bit, with many ties (3 score levels), some
    (40) or none (0)."""
    rng = np.random.default_rng(levels)
    labels = rng.integers(0, 2, 1000)
    scores = rng.random(1000)
    if levels:
        scores = np.floor(scores * levels) / levels
    ranked = _ranked(labels, scores, folder=tmp_path, run_scores=50, merge_chunk=4)

    assert ranked._runs == [56] * 17
    assert ranked.auc() == binary_auc(labels, scores)
    assert list(tmp_path.iterdir()) == []


def test_auc_of_a_tie_group_longer_than_a_merge_chunk(tmp_path):
    labels = np.array([0, 1] * 200 + [1, 0, 0])
    scores = np.array([0.5] * 400 + [0.9, 0.1, 0.95])
    ranked = _ranked(labels, scores, folder=tmp_path, run_scores=30, merge_chunk=3)

    # 201 positives, 202 negatives: 200 positives tie with 200 negatives and
    # beat one; the one at 0.9 beats 201 negatives.
    assert ranked.auc() == (200 * 200 * 0.5 + 200 + 201) / (201 * 202)


def test_ranked_scores_need_both_classes():
    ranked = _ranked(np.ones(20, int), np.linspace(0, 1, 20), run_scores=5)

    with pytest.raises(ValueError, match="both classes"):
        ranked.auc()


def test_score_histogram_counts_each_true_class_per_bin():
    labels = [0, 0, 0, 1, 1, 1]
    scores = [0.0, 0.1, 0.26, 0.5, 0.74, 1.0]

    histogram = score_histogram(labels, scores, 0.5, bins=4)

    assert histogram == {
        "kind": "score",
        "edges": [0.0, 0.25, 0.5, 0.75, 1.0],
        "counts": {"0": [2, 1, 0, 0], "1": [0, 0, 2, 1]},
        "threshold": 0.5,
    }


def test_residual_histogram_is_symmetric_and_counts_outliers_apart():
    true = np.array([10.0] * 200 + [1000.0, -1000.0])
    predicted = np.array([10.0 + (i % 5 - 2) for i in range(200)] + [0.0, 0.0])

    histogram = residual_histogram(true, predicted, bins=4)

    # Residuals -2 to 2, 40 of each; the 1st and 99th percentiles are -2
    # and 2, so the bins span [-2, 2] (the last holds both 1 and 2) and
    # the two residuals of 1000 and -1000 fall outside.
    assert histogram == {
        "kind": "residual",
        "edges": [-2.0, -1.0, 0.0, 1.0, 2.0],
        "counts": [40, 40, 40, 80],
        "below": 1,
        "above": 1,
        "mean": 0.0,
    }


def test_residual_histogram_of_a_perfect_model_has_one_full_bin():
    histogram = residual_histogram(np.array([3.0, 4.0]), np.array([3.0, 4.0]), 2)

    assert histogram["edges"] == [-1.0, 0.0, 1.0]
    assert histogram["counts"] == [0, 2]


def test_score_histogram_of_blocks_equals_the_histogram_of_all():
    rng = np.random.default_rng(7)
    labels, scores = rng.integers(0, 2, 500), rng.random(500)
    histogram = ScoreHistogram()
    for start in range(0, 500, 64):
        histogram.add(labels[start : start + 64], scores[start : start + 64])

    assert histogram.result(0.4) == score_histogram(labels, scores, 0.4)


def test_residuals_in_memory_give_the_histogram_and_rmse_of_all():
    rng = np.random.default_rng(8)
    true, predicted = rng.normal(size=3000), rng.normal(size=3000)
    residuals = Residuals()
    for start in range(0, 3000, 500):
        residuals.add(true[start : start + 500], predicted[start : start + 500])

    assert residuals.histogram() == residual_histogram(true, predicted)
    assert residuals.rmse() == pytest.approx(rmse(true, predicted), rel=1e-12)


@pytest.mark.parametrize(
    "true",
    [
        [1e300, -1e300, 3.0, 1e200],  # squares past the float range
        [1.2e154, -1.2e154, 3.0, 1.2e154],  # only their sum past it
    ],
)
def test_residuals_whose_squares_overflow_give_the_finite_rmse(true):
    true, predicted = np.array(true), np.array([0.0, 0.0, 1.0, 0.0])
    residuals = Residuals()
    for start in range(4):
        residuals.add(true[start : start + 1], predicted[start : start + 1])

    found = residuals.rmse()

    assert np.isfinite(found)
    assert found == pytest.approx(rmse(true, predicted), rel=1e-12)
    assert found == pytest.approx(
        np.sqrt(np.mean(((true - predicted) / 1e150) ** 2)) * 1e150, rel=1e-12
    )


def test_residuals_past_memory_go_to_disk_and_keep_exact_counts(tmp_path):
    """Past 1,000 residuals (here) they are written to a file: the counts
    stay exact, the edges come from the sketch of the residuals (exact
    below its 262,144 values) and the file goes with close()."""
    rng = np.random.default_rng(9)
    true, predicted = rng.normal(size=5000) * 3, rng.normal(size=5000)
    residuals = Residuals(tmp_path, memory_residuals=1000)
    for start in range(0, 5000, 700):
        residuals.add(true[start : start + 700], predicted[start : start + 700])

    assert len(list(tmp_path.iterdir())) == 1
    found, expected = residuals.histogram(), residual_histogram(true, predicted)
    # The mean adds the blocks' sums: equal up to rounding.
    assert found.pop("mean") == pytest.approx(expected.pop("mean"), rel=1e-12)
    assert found == expected
    assert residuals.rmse() == pytest.approx(rmse(true, predicted), rel=1e-12)
    residuals.close()
    assert list(tmp_path.iterdir()) == []
