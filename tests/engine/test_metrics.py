import numpy as np
import pytest

from mlpipeline.engine.metrics import (
    RankedScores,
    binary_auc,
    confusion_matrix,
    macro_f1,
    rmse,
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
