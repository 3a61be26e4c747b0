import pytest

from mlpipeline.engine.csvio import ReadReport
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.statistics import StatisticsBuilder
from mlpipeline.engine.values import build_table

from .conftest import schema_json

SCHEMA = parse_schema(
    schema_json(
        [("n", "NUMERIC"), ("b", "BINARY"), ("c", "CATEGORICAL"), ("t", "TEXT")],
        target="c",
    )
)
ROWS = [
    ["1", "yes", "x", "Hello world"],
    ["2", "no", "y", "hello, there"],
    ["3", "y", "x", ""],
    ["", "maybe", "x", "World"],
    ["bad", "", "", "a b c d"],
]


def _stats():
    builder = StatisticsBuilder(SCHEMA)
    positions = {n: i for i, n in enumerate(SCHEMA.names)}
    builder.update(build_table(ROWS[:2], positions, SCHEMA.types))
    builder.update(build_table(ROWS[2:], positions, SCHEMA.types))
    report = ReadReport(records=7, selected=6, invalid=1, problems=["line 3: x"])
    return builder.result(report)


def test_record_counts():
    assert _stats()["records"] == {
        "total": 7,
        "selected": 6,
        "valid": 5,
        "invalid": 1,
        "problems": ["line 3: x"],
    }


def test_numeric_statistics_separate_missing_and_invalid():
    stats = _stats()["attributes"]["n"]
    assert (stats["count"], stats["missing"], stats["invalid"]) == (3, 1, 1)
    assert (stats["min"], stats["max"], stats["mean"], stats["median"]) == (1, 3, 2, 2)
    assert stats["distinct"] == 3
    assert len(stats["histogram"]["counts"]) == 10
    assert sum(stats["histogram"]["counts"]) == 3
    assert stats["histogram"]["edges"][0] == 1 and stats["histogram"]["edges"][-1] == 3


def test_binary_statistics():
    stats = _stats()["attributes"]["b"]
    assert (stats["count"], stats["missing"], stats["invalid"]) == (3, 1, 1)
    assert stats["percent_true"] == pytest.approx(200 / 3)
    assert stats["top_values"] == [
        {"value": "1", "count": 2},
        {"value": "0", "count": 1},
    ]


def test_categorical_statistics_and_target_distribution():
    result = _stats()
    stats = result["attributes"]["c"]
    assert (stats["count"], stats["missing"], stats["distinct"]) == (4, 1, 2)
    assert stats["top_values"] == [
        {"value": "x", "count": 3},
        {"value": "y", "count": 1},
    ]
    assert result["target"] == {
        "name": "c",
        "type": "CATEGORICAL",
        "distribution": {"x": 3, "y": 1},
    }


def test_text_statistics():
    stats = _stats()["attributes"]["t"]
    assert (stats["count"], stats["missing"]) == (4, 1)
    assert stats["total_words"] == 9
    assert stats["unique_words"] == 9
    assert stats["words_per_record"] == {"min": 1, "max": 4}
    assert stats["word_lengths"] == {"min": 1, "max": 6}
    assert stats["top_words"][:2] == [
        {"value": "hello", "count": 2},
        {"value": "world", "count": 2},
    ]


def test_categorical_statistics_stay_bounded_past_65536_distinct_values():
    """A column of 150,000 distinct ids plus one frequent value keeps at
    most 2 x 65,536 counts; the frequent value leads the top values and
    the distinct count is estimated within 2 %."""
    schema = parse_schema(schema_json([("c", "CATEGORICAL")]))
    builder = StatisticsBuilder(schema)
    for start in range(0, 150_000, 10_000):
        rows = [[f"id-{i}"] for i in range(start, start + 10_000)]
        rows += [["common"]] * 1_000
        builder.update(build_table(rows, {"c": 0}, schema.types))

    stats = builder.result(ReadReport())["attributes"]["c"]

    assert len(builder.accumulators["c"].values.counts) <= 2 * 65_536
    assert stats["count"] == 165_000
    assert stats["top_values"][0]["value"] == "common"
    assert 15_000 - 165_000 / 65_537 <= stats["top_values"][0]["count"] <= 15_000
    assert abs(stats["distinct"] - 150_001) < 150_001 * 0.02


def test_every_other_attribute_gets_its_correlation_to_the_target():
    attributes = _stats()["attributes"]
    assert "correlation" not in attributes["c"]
    # n is 1, 2, 3 where c is x, y, x: both classes average 2, so eta is 0.
    assert attributes["n"]["correlation"] == pytest.approx(0.0, abs=1e-12)
    # b is 1, 0, 1 (and missing) where c is x, y, x: b decides c.
    assert attributes["b"]["correlation"] == pytest.approx(1.0)
    assert attributes["t"]["correlation"] == pytest.approx(1.0)


def test_no_correlation_without_a_usable_target():
    schema = parse_schema(schema_json([("n", "NUMERIC"), ("t", "TEXT")], "t"))
    builder = StatisticsBuilder(schema)
    builder.update(build_table([["1", "a"]], {"n": 0, "t": 1}, schema.types))
    assert "correlation" not in builder.result(ReadReport())["attributes"]["n"]
