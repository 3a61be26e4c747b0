import numpy as np
import pytest

from mlpipeline.engine.metrics import binary_auc, confusion_matrix, macro_f1, rmse


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
