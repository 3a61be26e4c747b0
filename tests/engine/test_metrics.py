import numpy as np
import pytest

from mlpipeline.engine.metrics import (
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
