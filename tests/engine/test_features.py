import json

import numpy as np
import pytest
import scipy.sparse as sp

from mlpipeline.engine.features import FeatureSpace, remap_columns
from mlpipeline.engine.recipe import parse_recipe
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.values import build_table

from .conftest import schema_json

SCHEMA = parse_schema(
    schema_json(
        [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("b", "BINARY"), ("t", "TEXT")]
    )
)


def _table(rows):
    return build_table(rows, {n: i for i, n in enumerate(SCHEMA.names)}, SCHEMA.types)


def _space(*outputs):
    recipe = parse_recipe(json.dumps({"outputs": list(outputs)}), SCHEMA)
    return FeatureSpace(list(recipe.outputs), SCHEMA.types)


def _dense(matrix):
    return matrix.toarray().tolist()


def test_quantile_edges_and_upper_bin_on_edges():
    rows = [[str(v), "a", "1", "w"] for v in range(1, 11)]
    space = _space("quantile_bin(x, 5)")
    space.fit_transform(_table(rows))
    edges = space.params_["quantile_bin(x,5)"]["edges"]
    assert edges == pytest.approx(np.quantile(np.arange(1, 11), [0.2, 0.4, 0.6, 0.8]))
    probe = _table([["2.8", "", "", ""], ["0", "", "", ""], ["99", "", "", ""]])
    names = space.feature_names()
    matrix = space.transform(probe).toarray()
    picked = [names[row.argmax()] for row in matrix]
    assert picked == [
        "quantile_bin(x,5)=1",
        "quantile_bin(x,5)=0",
        "quantile_bin(x,5)=4",
    ]


def test_quantile_edges_are_deduplicated_and_missing_has_no_bin():
    rows = [["1", "", "", ""]] * 8 + [["2", "", "", ""], ["", "", "", ""]]
    space = _space("quantile_bin(x, 10)")
    matrix = space.fit_transform(_table(rows))
    edges = space.params_["quantile_bin(x,10)"]["edges"]
    values = np.array([1.0] * 8 + [2.0])
    assert edges == np.unique(np.quantile(values, np.arange(1, 10) / 10)).tolist()
    assert edges[0] == 1.0 and len(edges) == 2
    assert matrix[9].nnz == 0


def test_normalize_uses_population_std():
    rows = [[v, "", "", ""] for v in ("1", "2", "3", "4", "")]
    space = _space("normalize(x)")
    matrix = space.fit_transform(_table(rows))
    values = np.array([1, 2, 3, 4])
    expected = (values - values.mean()) / values.std()
    assert matrix.toarray()[:4, 0] == pytest.approx(expected)
    assert matrix[4].nnz == 0
    assert space.params_["normalize(x)"] == {
        "mean": 2.5,
        "std": pytest.approx(1.118034),
    }


def test_normalize_constant_gives_zero():
    space = _space("normalize(x)")
    matrix = space.fit_transform(_table([["5", "", "", ""]] * 3))
    assert matrix.nnz == 0
    assert space.params_["normalize(x)"]["std"] == 0.0


def test_categorical_vocabulary_comes_from_training_only():
    space = _space("c")
    space.fit_transform(_table([["", "red", "", ""], ["", "blue", "", ""]]))
    assert space.feature_names() == ["c=blue", "c=red"]
    matrix = space.transform(_table([["", "green", "", ""], ["", "red", "", ""]]))
    assert _dense(matrix) == [[0, 0], [0, 1]]


def test_binary_is_one_feature_and_numeric_raw_value():
    space = _space("b", "x")
    matrix = space.fit_transform(
        _table([["2.5", "", "yes", ""], ["-1", "", "no", ""], ["", "", "", ""]])
    )
    assert space.feature_names() == ["b", "x"]
    assert _dense(matrix) == [[1, 2.5], [0, -1], [0, 0]]


def test_text_tokens_are_indicators_and_unigrams_included_in_ngrams():
    space = _space("ngram(t, 2)")
    matrix = space.fit_transform(_table([["", "", "", "a b a"]]))
    assert space.feature_names() == [
        "ngram(t,2)=a",
        "ngram(t,2)=a b",
        "ngram(t,2)=b",
        "ngram(t,2)=b a",
    ]
    assert _dense(matrix) == [[1, 1, 1, 1]]


def test_lowercase_no_punct_and_cartesian_features():
    space = _space("no_punct(lowercase(t))", "cartesian(c, t)")
    space.fit_transform(_table([["", "X", "", "Hi there!"]]))
    assert space.feature_names() == [
        "no_punct(lowercase(t))=hi",
        "no_punct(lowercase(t))=there",
        "cartesian(c,t)=X_Hi",
        "cartesian(c,t)=X_there!",
    ]


def test_keep_prunes_columns_and_transform_follows():
    space = _space("c", "x")
    space.fit_transform(_table([["1", "a", "", ""], ["2", "b", "", ""]]))
    space.keep(np.array([False, True, True]))
    assert space.feature_names() == ["c=b", "x"]
    assert _dense(space.transform(_table([["3", "a", "", ""]]))) == [[0, 3]]


def test_saved_space_transforms_identically():
    space = _space("quantile_bin(x, 5)", "normalize(x)", "c", "ngram(t,2)", "b")
    rows = [[str(i), f"k{i % 3}", str(i % 2), f"w{i} w{i + 1}"] for i in range(20)]
    space.fit_transform(_table(rows))
    loaded = FeatureSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    probe = _table([*rows[:5], ["", "zz", "", "unseen"]])
    assert (space.transform(probe) != loaded.transform(probe)).nnz == 0
    assert loaded.attributes == {
        "x": "NUMERIC",
        "c": "CATEGORICAL",
        "t": "TEXT",
        "b": "BINARY",
    }


def test_fitting_block_by_block_equals_fitting_the_whole_table():
    rng = np.random.default_rng(4)
    rows = [
        [f"{rng.normal():.5f}", f"k{rng.integers(9)}", "1", "a b c"[: rng.integers(6)]]
        for _ in range(300)
    ]
    outputs = ("quantile_bin(x, 6)", "normalize(x)", "c", "ngram(t, 2)")
    whole = _space(*outputs)
    expected = whole.fit_transform(_table(rows))
    streamed = _space(*outputs)
    streamed.begin_fit()
    for start in range(0, 300, 70):
        streamed.observe(_table(rows[start : start + 70]))
    streamed.end_pass()
    assert streamed.fitted and streamed.params_ == whole.params_
    streamed.begin_vocabulary()
    parts = [streamed.encode(_table(rows[s : s + 70])) for s in range(0, 300, 70)]
    remap = streamed.end_vocabulary()
    assert streamed.tokens_ == whole.tokens_
    width = streamed.n_provisional
    matrix = sp.vstack([sp.csr_matrix(p, shape=(p.shape[0], width)) for p in parts])
    assert (remap_columns(matrix.tocsr(), remap, whole.n_features) != expected).nnz == 0


def test_nested_fitted_calls_take_one_more_pass():
    rows = [[str(v), "", "", ""] for v in range(20)]
    space = _space("quantile_bin(normalize(x), 5)")
    space.begin_fit()
    space.observe(_table(rows))
    space.end_pass()
    assert not space.fitted and "normalize(x)" in space.params_
    space.observe(_table(rows))
    space.end_pass()
    assert space.fitted
    assert _dense(space.fit_transform(_table(rows))) == _dense(
        space.transform(_table(rows))
    )
