import json

import numpy as np
import pytest

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.predictor import Predictor
from mlpipeline.engine.recipe import parse_recipe
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.values import build_table

from .conftest import schema_json

SCHEMA = parse_schema(schema_json([("x", "NUMERIC"), ("c", "CATEGORICAL")]))


def _space():
    recipe = parse_recipe(json.dumps({"outputs": ["x", "c"]}), SCHEMA)
    space = FeatureSpace(list(recipe.outputs), SCHEMA.types)
    rows = [["1", "red"], ["2", "blue"]]
    space.fit_transform(build_table(rows, {"x": 0, "c": 1}, SCHEMA.types))
    return space  # columns: x, c=blue, c=red


def _binary(coef=(0.0, 0.0, 0.0), intercept=0.0):
    return Predictor(
        "BINARY",
        _space(),
        np.array(coef)[:, None],
        np.array([intercept]),
        classes=["0", "1"],
    )


def test_binary_score_equal_to_threshold_is_positive():
    prediction = _binary().predict({"x": "3"})
    assert prediction == {
        "predictedLabel": "1",
        "predictedScores": {"1": 0.5},
        "details": {"PredictiveModelType": "BINARY", "Algorithm": "SGD"},
    }


def test_binary_single_score_keyed_by_label_holds_probability_of_one():
    predictor = _binary(coef=(1.0, 0.0, 0.0))
    low = predictor.predict({"x": "-2"})
    assert low["predictedLabel"] == "0"
    assert low["predictedScores"] == {"0": pytest.approx(1 / (1 + np.exp(2)))}
    assert "predictedValue" not in low
    assert predictor.predict({"x": "-2"}, score_threshold=0.1)["predictedLabel"] == "1"
    predictor.score_threshold = 0.9
    assert predictor.predict({"x": "1"})["predictedLabel"] == "0"


def test_multiclass_scores_every_class_and_sum_to_one():
    coef = np.array([[0.5, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    predictor = Predictor(
        "MULTICLASS", _space(), coef, np.zeros(3), classes=["a", "b", "c"]
    )
    prediction = predictor.predict({"x": "1", "c": "blue"})
    scores = prediction["predictedScores"]
    assert list(scores) == ["a", "b", "c"]
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction["predictedLabel"] == "b"
    expected = np.exp([0.5, 2.0, 0.0]) / np.exp([0.5, 2.0, 0.0]).sum()
    assert list(scores.values()) == pytest.approx(expected.tolist())
    assert prediction["details"]["PredictiveModelType"] == "MULTICLASS"
    assert "predictedValue" not in prediction


def test_multiclass_tie_goes_to_first_sorted_class():
    predictor = Predictor(
        "MULTICLASS", _space(), np.zeros((3, 3)), np.zeros(3), classes=["a", "b", "c"]
    )
    prediction = predictor.predict({})
    assert prediction["predictedLabel"] == "a"
    assert prediction["predictedScores"] == pytest.approx(
        {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
    )


def test_regression_value_is_unclipped_and_destandardised():
    coef = np.array([[2.0], [0.0], [0.0]])
    predictor = Predictor(
        "REGRESSION", _space(), coef, np.array([1.0]), target_mean=10.0, target_std=3.0
    )
    prediction = predictor.predict({"x": "100"})
    assert prediction == {
        "predictedValue": pytest.approx((2 * 100 + 1) * 3 + 10),
        "details": {"PredictiveModelType": "REGRESSION", "Algorithm": "SGD"},
    }


def test_missing_unknown_and_invalid_values():
    coef = np.array([[1.0], [0.5], [-0.5]])
    predictor = Predictor("REGRESSION", _space(), coef, np.array([0.0]))
    base = predictor.predict({})["predictedValue"]
    assert base == 0.0
    assert predictor.predict({"x": "abc", "c": "green"})["predictedValue"] == base
    assert predictor.predict({"unknown": "1", "c": "blue"})["predictedValue"] == 0.5
    assert predictor.predict({"x": " 2 "})["predictedValue"] == 2.0


def test_predict_many_matches_single_predictions():
    predictor = _binary(coef=(0.3, 1.0, -1.0), intercept=0.1)
    records = [{"x": "1", "c": "red"}, {"c": "blue"}, {}]
    assert predictor.predict_many(records) == [predictor.predict(r) for r in records]


@pytest.mark.parametrize("record", [{"x": 3}, {"x": None}, {1: "3"}, ["x"]])
def test_records_must_map_strings_to_strings(record):
    with pytest.raises(InvalidInputException, match="string"):
        _binary().predict(record)


RICH = parse_schema(
    schema_json(
        [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("b", "BINARY"), ("t", "TEXT")]
    )
)
RICH_OUTPUTS = [
    "x",
    "quantile_bin(x, 7)",
    "normalize(x)",
    "c",
    "b",
    "lowercase(t)",
    "ngram(t, 2)",
    "cartesian(c, quantile_bin(x, 5))",
]


def _random_cells(rng, n):
    words = ["Alpha", "beta", "GAMMA", "delta", "eps", "!", "beta"]
    rows = []
    for _ in range(n):
        x = "" if rng.random() < 0.1 else f"{rng.normal(3, 4):.4g}"
        if rng.random() < 0.05:
            x = "oops"
        c = "" if rng.random() < 0.1 else f"k{rng.integers(12)}"
        b = ["1", "0", "yes", "no", "", "maybe"][rng.integers(6)]
        t = " ".join(rng.choice(words, size=rng.integers(0, 5)))
        rows.append([x, c, b, t])
    return rows


# Outputs a single record computes on Python numbers, with no table.
SCALAR_OUTPUTS = ["x", "quantile_bin(x, 7)", "normalize(x)", "c", "b", "t"]


@pytest.mark.parametrize(
    ("outputs", "scalar"), [(RICH_OUTPUTS, False), (SCALAR_OUTPUTS, True)]
)
@pytest.mark.parametrize(
    ("model_type", "n_out", "classes"),
    [
        ("BINARY", 1, ["0", "1"]),
        ("MULTICLASS", 5, ["a", "b", "c", "d", "e"]),
        ("REGRESSION", 1, []),
    ],
)
def test_single_record_path_equals_batch_path_to_the_bit(
    model_type, n_out, classes, outputs, scalar
):
    rng = np.random.default_rng(11)
    recipe = parse_recipe(json.dumps({"outputs": outputs}), RICH)
    space = FeatureSpace(list(recipe.outputs), RICH.types)
    positions = {n: i for i, n in enumerate(RICH.names)}
    space.fit_transform(build_table(_random_cells(rng, 400), positions, RICH.types))
    coef = rng.normal(0, 1.5, size=(space.n_features, n_out))
    predictor = Predictor(
        model_type,
        space,
        coef,
        rng.normal(size=n_out),
        classes=classes,
        target_mean=2.5,
        target_std=3.0,
    )
    records = [
        {name: cell for name, cell in zip(RICH.names, row, strict=True) if cell}
        for row in _random_cells(rng, 500)
    ]
    records[0] = {}
    records[1] = {"x": "  ", "unknown": "1", "t": "   "}
    batch = predictor.predict_many(records, score_threshold=0.4)
    singles = [predictor.predict(r, score_threshold=0.4) for r in records]
    assert singles == batch
    assert (space.record_features(records[2]) is not None) == scalar


def test_single_record_normalizes_a_constant_attribute_to_zero():
    """A training attribute without spread normalizes to 0 (missing stays
    missing) on both paths."""
    recipe = parse_recipe(json.dumps({"outputs": ["normalize(x)", "c"]}), RICH)
    space = FeatureSpace(list(recipe.outputs), RICH.types)
    rows = [["3", f"k{i % 3}", "1", "a"] for i in range(30)]
    space.fit_transform(build_table(rows, {"x": 0, "c": 1, "b": 2, "t": 3}, RICH.types))
    predictor = Predictor("REGRESSION", space, np.ones((space.n_features, 1)), [0.5])
    records = [{"x": "3", "c": "k1"}, {"x": "9"}, {"c": "k2"}, {"x": "x"}]

    assert space.params_ == {"normalize(x)": {"mean": 3.0, "std": 0.0}}
    assert [predictor.predict(r)["predictedValue"] for r in records] == [
        1.5,
        0.5,
        1.5,
        0.5,
    ]
    assert predictor.predict_many(records) == [predictor.predict(r) for r in records]
