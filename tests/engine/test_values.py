import math

import numpy as np
import pytest

from mlpipeline.engine.values import (
    INVALID,
    MISSING,
    OK,
    Table,
    build_table,
    parse_binary,
    parse_column,
    parse_numeric,
)


@pytest.mark.parametrize(
    ("cell", "value", "status"),
    [
        (" FaLSe ", 0.0, OK),
        ("TRUE", 1.0, OK),
        ("Yes", 1.0, OK),
        ("y", 1.0, OK),
        ("t", 1.0, OK),
        ("1", 1.0, OK),
        ("no", 0.0, OK),
        ("N", 0.0, OK),
        ("f", 0.0, OK),
        ("0", 0.0, OK),
        ("2", None, INVALID),
        ("maybe", None, INVALID),
        ("", None, MISSING),
        ("   ", None, MISSING),
    ],
)
def test_binary_spellings(cell, value, status):
    parsed, found = parse_binary(cell)
    assert found == status
    assert parsed == value if value is not None else math.isnan(parsed)


@pytest.mark.parametrize(
    ("cell", "value"),
    [("1.5", 1.5), (" -2e3 ", -2000.0), (".5", 0.5), ("7", 7.0), ("+3.", 3.0)],
)
def test_numeric_accepts_decimal_and_scientific(cell, value):
    assert parse_numeric(cell) == (value, OK)


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1e999", "abc", "1_000"])
def test_numeric_rejects_non_finite_and_text(cell):
    value, status = parse_numeric(cell)
    assert status == INVALID and math.isnan(value)


def test_numeric_empty_is_missing_not_invalid():
    column = parse_column(["1", "", "x", " "], "NUMERIC")
    assert column.status.tolist() == [OK, MISSING, INVALID, MISSING]
    assert column.values[0] == 1.0 and np.isnan(column.values[1:]).all()


def test_categorical_is_exact_and_case_sensitive():
    column = parse_column(["Red", "red", " red", "a b", ""], "CATEGORICAL")
    assert column.values == ["Red", "red", " red", "a b", None]
    assert column.status.tolist() == [OK, OK, OK, OK, MISSING]


def test_text_without_tokens_is_missing():
    column = parse_column(["email-subject here", "  ", ""], "TEXT")
    assert column.values == ["email-subject here", None, None]


def test_binary_column_outputs_only_zero_and_one():
    column = parse_column(["Yes", "f", "?"], "BINARY")
    assert column.values[:2].tolist() == [1.0, 0.0]
    assert column.status.tolist() == [OK, OK, INVALID]


def test_build_table_marks_absent_attributes_missing():
    table = build_table(
        [["1", "a"], ["2", "b"]],
        {"x": 0, "y": 1, "z": None},
        {"x": "NUMERIC", "z": "CATEGORICAL"},
    )
    assert table.n_rows == 2
    assert table["x"].values.tolist() == [1.0, 2.0]
    assert table["z"].values == [None, None]
    assert "y" not in table


def test_table_concat_and_select():
    types = {"x": "NUMERIC", "c": "CATEGORICAL"}
    first = build_table([["1", "a"]], {"x": 0, "c": 1}, types)
    second = build_table([["2", "b"], ["3", ""]], {"x": 0, "c": 1}, types)
    table = Table.concat([first, second], types)
    assert table.n_rows == 3
    picked = table.select(np.array([False, True, True]))
    assert picked["x"].values.tolist() == [2.0, 3.0]
    assert picked["c"].values == ["b", None]
