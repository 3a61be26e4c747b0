import math

import numpy as np
import pytest
from scipy.stats.contingency import association

from mlpipeline.engine.correlation import (
    Correlation,
    TargetBlock,
    cramers_v,
    eta,
    pearson,
)
from mlpipeline.engine.values import parse_column


def _correlation(attr_type, cells, target_type, targets, blocks=1):
    classes = target_type == "CATEGORICAL"
    found = Correlation(attr_type, classes=classes)
    size = math.ceil(len(cells) / blocks)
    for start in range(0, len(cells), size):
        target = parse_column(targets[start : start + size], target_type)
        found.update(
            parse_column(cells[start : start + size], attr_type),
            TargetBlock(target, classes),
        )
    return found.result()


def test_numeric_attribute_and_target_use_pearson():
    x, y = [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]
    expected = abs(np.corrcoef(x, y)[0, 1])
    cells = [str(v + 1e9) for v in x]
    found = _correlation("NUMERIC", cells, "NUMERIC", [str(-v) for v in y], 2)
    assert found == pytest.approx(expected, rel=1e-9)
    assert round(found, 6) == 0.774597


def test_numeric_attribute_and_class_target_use_the_correlation_ratio():
    found = _correlation("NUMERIC", ["1", "2", "3", "4"], "CATEGORICAL", list("aabb"))
    assert found == pytest.approx(math.sqrt(4 / 5))
    split = _correlation(
        "NUMERIC", ["1", "2", "3", "4"], "CATEGORICAL", list("abab"), blocks=2
    )
    assert split == pytest.approx(math.sqrt(0.2))
    assert eta({"a": [2, 3.0, 5.0], "b": [2, 7.0, 25.0]}) == pytest.approx(
        math.sqrt(0.8)
    )


def test_categorical_attribute_and_class_target_use_cramers_v():
    attribute = list("xxxyyyzzzz")
    target = list("aababbbaab")
    table = np.array([[2, 1], [1, 2], [2, 2]])
    expected = association(table, method="cramer")
    assert _correlation("CATEGORICAL", attribute, "CATEGORICAL", target) == (
        pytest.approx(expected)
    )
    assert cramers_v({("x", "a"): 10, ("y", "b"): 10}) == 1.0
    assert cramers_v({(r, c): 5 for r in "xy" for c in "ab"}) == 0.0


def test_binary_target_eta_equals_cramers_v_of_the_two_columns():
    attribute = list("xxxyyyzzzz")
    as_numbers = _correlation("CATEGORICAL", attribute, "BINARY", list("1101000110"))
    as_classes = _correlation(
        "CATEGORICAL", attribute, "CATEGORICAL", list("aababbbaab")
    )
    assert as_numbers == pytest.approx(as_classes)


def test_text_takes_its_most_correlated_frequent_word():
    texts = ["Great stay!", "great view", "bad food", "Bad, bad room", "great"]
    target = ["1", "1", "0", "0", "1"]
    found = _correlation("TEXT", texts, "BINARY", target)
    # "great" is present exactly in the positive records.
    assert found == pytest.approx(1.0)
    classes = _correlation("TEXT", texts, "CATEGORICAL", list("ppnnp"))
    assert classes == pytest.approx(1.0)


def test_undefined_correlations_are_none():
    assert _correlation("NUMERIC", ["1", "1", "1"], "NUMERIC", ["1", "2", "3"]) is None
    assert _correlation("NUMERIC", ["1", "2"], "NUMERIC", ["", "x"]) is None
    assert _correlation("CATEGORICAL", ["a", "b"], "CATEGORICAL", ["k", "k"]) is None
    assert pearson(1, 1, 1, 1, 1, 1) is None
    assert eta({"only": [3, 6.0, 14.0]}) is None


def test_only_records_valid_on_both_sides_count():
    cells = ["1", "2", "3", "", "bad", "4"]
    targets = ["2", "4", "6", "8", "9", "x"]
    assert _correlation("NUMERIC", cells, "NUMERIC", targets) == pytest.approx(1.0)
