import pytest

from mlpipeline import DatePartsExpander, LongIdExpander
from mlpipeline.exceptions import DataError


def test_long_id_expands_into_length_base_10_and_digits():
    expander = LongIdExpander("number", digits=9)

    values = expander.expand("WXY5678")

    assert values == [
        "7", str(int("WXY5678", 36)), "32", "33", "34", "5", "6", "7", "8", "", "",
    ]  # fmt: skip
    assert int(values[1]) == (
        (((((32 * 36 + 33) * 36 + 34) * 36 + 5) * 36 + 6) * 36 + 7) * 36 + 8
    )


def test_long_id_attributes_are_named_after_the_source():
    expander = LongIdExpander("number", digits=3)

    assert expander.attributes() == [
        ("number_length", "NUMERIC"),
        ("number_base_10", "NUMERIC"),
        ("number_digit_1", "CATEGORICAL"),
        ("number_digit_2", "CATEGORICAL"),
        ("number_digit_3", "CATEGORICAL"),
    ]


def test_long_id_reads_lower_case_and_skips_separators():
    expander = LongIdExpander("number", digits=4)

    assert expander.expand("ab-1 2") == expander.expand("AB12")


def test_long_id_missing_value_gives_missing_features():
    assert LongIdExpander("n", digits=2).expand("") == ["", "", "", ""]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ABC\u00c91", "holds '\u00c9', which is not a base-36 digit"),
        ("ABCDEF", "has 6 characters, more than the 5 digits"),
    ],
)
def test_long_id_rejects_what_it_cannot_expand(value, message):
    with pytest.raises(DataError, match=message):
        LongIdExpander("number", digits=5).expand(value)


def test_long_id_digit_type_can_be_numeric():
    expander = LongIdExpander("n", digits=1, digit_type="NUMERIC")

    assert expander.attributes()[-1] == ("n_digit_1", "NUMERIC")
    with pytest.raises(ValueError, match="digit_type must be"):
        LongIdExpander("n", digit_type="TEXT")


def test_date_parts():
    expander = DatePartsExpander("arrival")

    assert expander.expand("2016-07-02") == ["2016", "7", "6"]
    assert expander.expand("2016-07-02T10:00:00+00:00") == ["2016", "7", "6"]
    assert expander.expand("") == ["", "", ""]
    with pytest.raises(
        DataError, match="arrival value '02/07/2016' is not an ISO date"
    ):
        expander.expand("02/07/2016")


def test_long_id_batch_expansion_matches_value_by_value():
    expander = LongIdExpander("number", digits=8)
    values = ["AB-12", "", "zz9", "12345678", "a b.c/d_e", "0"]

    columns = expander.expand_batch(values)

    assert [list(row) for row in zip(*columns, strict=True)] == [
        expander.expand(v) for v in values
    ]


def test_long_id_batch_expansion_rejects_what_expand_rejects():
    expander = LongIdExpander("number", digits=4)
    for bad in (["AB", "A*B"], ["12345"], ["é"]):
        with pytest.raises(DataError):
            expander.expand_batch(bad)


def test_default_batch_expansion_uses_expand():
    expander = DatePartsExpander("day")

    columns = expander.expand_batch(["2024-02-29", "", "2024-02-29"])

    assert [list(c) for c in columns] == [
        ["2024", "", "2024"],
        ["2", "", "2"],
        ["4", "", "4"],
    ]
