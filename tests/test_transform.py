import csv
import json
from dataclasses import replace

import pytest

from mlpipeline import LongIdExpander, Pipeline
from mlpipeline.exceptions import DataError
from mlpipeline.schema import layout_for
from mlpipeline.split import SplitRule, split_paths
from mlpipeline.transform import transform
from project.demo.models import HotelBooking, Insured, Policy


class PlanPipeline(Pipeline):
    name = "plans"
    model = Policy
    fields = ["number", "plan"]
    target = "plan"
    expanders = [LongIdExpander("number", digits=4)]


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "insurance"]
    target = "insurance"


class RatePipeline(Pipeline):
    name = "rates"
    model = HotelBooking
    fields = ["meal", "avg_price_per_room"]
    target = "avg_price_per_room"


WIDE_FIELDS = ["meal", "agent", "company", "lead_time", "avg_price_per_room"]


def write_rows(path, rows):
    """Write extracted rows: a header, then rows; keys 1, 2, ... go first."""
    header, *values = rows
    keyed = [["(primary key)", *header]]
    keyed += [[str(pk), *row] for pk, row in enumerate(values, start=1)]
    with open(path, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(keyed)
    return path


def refusal(tmp_path, pipeline, rows, header=None):
    """Return the error of transforming ``rows``; check no schema is left."""
    layout = layout_for(pipeline)
    path = write_rows(tmp_path / "rows.csv", [header or layout.columns, *rows])
    with pytest.raises(DataError) as caught:
        transform(layout, path, tmp_path / "features.csv")
    assert not (tmp_path / "features.csv.schema").exists()
    return str(caught.value)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def read_sides(tmp_path):
    """Return the rows of the training and the evaluation file."""
    return {
        side: read_csv(path)
        for side, path in split_paths(tmp_path / "features.csv").items()
    }


def test_transform_expands_rows_and_writes_the_schema_beside(tmp_path):
    layout = layout_for(PlanPipeline())
    filler = [[f"F{i}", "silver"] for i in range(15)]
    rows = write_rows(
        tmp_path / "rows.csv",
        [
            ["number", "plan"],
            ["AB1", "gold"],
            ["Z9Z9", "silver"],
            ["", "gold"],
            *filler,
        ],
    )

    result = transform(layout, rows, tmp_path / "features.csv")

    # Key 1 evaluates and keys 2 and 3 train, by sha256("plans|<key>").
    header = [
        "number_length", "number_base_10", "number_digit_1", "number_digit_2",
        "number_digit_3", "number_digit_4", "plan",
    ]  # fmt: skip
    written = read_sides(tmp_path)
    assert written["evaluation"][:2] == [
        header,
        ["3", str(int("AB1", 36)), "10", "11", "1", "", "gold"],
    ]
    assert written["train"][:3] == [
        header,
        ["4", str(int("Z9Z9", 36)), "35", "9", "35", "9", "silver"],
        ["", "", "", "", "", "", "gold"],
    ]
    sides = SplitRule("plans", 70).sides([str(key) for key in range(1, 19)])
    assert result.split_rows == {
        "train": sides.count("train"),
        "evaluation": sides.count("evaluation"),
    }
    assert [len(rows) - 1 for rows in written.values()] == [
        result.split_rows["train"],
        result.split_rows["evaluation"],
    ]
    assert not (tmp_path / "features.csv").exists()
    assert (result.rows_read, result.rows, result.rejected) == (18, 18, 0)
    assert result.target_counts == {"gold": 2, "silver": 16}
    schema = json.loads((tmp_path / "features.csv.schema").read_text())
    assert schema == result.schema
    assert schema["targetAttributeName"] == "plan"
    assert [a["attributeName"] for a in schema["attributes"]] == header


def test_rows_an_expander_rejects_are_left_out_and_counted(tmp_path):
    layout = replace(layout_for(PlanPipeline()), max_rejected=0.1)
    good = [[f"A{i}", ["gold", "silver"][i % 2]] for i in range(18)]
    rows = write_rows(
        tmp_path / "rows.csv",
        [["number", "plan"], *good[:5], ["A*B", "gold"], *good[5:], ["Ä", "x"]],
    )

    result = transform(layout, rows, tmp_path / "features.csv", batch_size=7)

    assert (result.rows_read, result.rows, result.rejected) == (20, 18, 2)
    assert result.rows_read == result.rows + result.rejected
    assert result.rejections == [
        "line 7 of the extracted rows (primary key '6'): number value 'A*B' holds "
        "'*', which is not a base-36 digit (0-9, A-Z)",
        "line 21 of the extracted rows (primary key '20'): number value 'Ä' holds "
        "'Ä', which is not a base-36 digit (0-9, A-Z)",
    ]
    assert sum(map(len, read_sides(tmp_path).values())) == 2 + 18
    assert sum(result.split_rows.values()) == 18


def test_more_rejected_rows_than_max_rejected_fail_naming_rows_and_values(tmp_path):
    rows = [["AB1", "x"], ["A*B", "y"]]

    assert refusal(tmp_path, PlanPipeline(), rows) == (
        "Pipeline 'plans' rejected 1 of 2 extracted rows (50.0%), more than its "
        "max_rejected (0.1%) allows; first: line 3 of the extracted rows (primary "
        "key '2'): number value 'A*B' holds '*', which is not a base-36 digit "
        "(0-9, A-Z). Fix those values, or raise max_rejected to leave such rows "
        "out."
    )


def rows_of(count, age=lambda i: str(20 + i % 40), target=lambda i: str(i % 2)):
    return [[age(i), target(i)] for i in range(count)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [],
            "Pipeline 'insurance' has no rows to learn from: its queryset is empty. "
            "Add rows, or widen get_queryset().",
        ),
        (
            [["30", "1"], ["40", "true"]],
            "Pipeline 'insurance': target 'insurance' has only the value(s) [\"1\"] "
            "in 2 rows; a BINARY model needs at least two classes. Learn from rows "
            "where the target varies: check the filter of get_queryset().",
        ),
        (
            [["30", "maybe"]],
            "Pipeline 'insurance': target 'insurance' holds 'maybe' in 1 rows, which "
            "is not a binary value (1/0, yes/no, true/false, y/n, t/f). Filter such "
            "rows out in get_queryset(), or train a MULTICLASS model on a "
            "CATEGORICAL target.",
        ),
        (
            [["30", ""]],
            "Pipeline 'insurance': target 'insurance' is missing in 1 of 1 rows; "
            "rows without a target cannot train or evaluate, so filter them out in "
            "get_queryset() or fill the target in.",
        ),
        (
            rows_of(40, target=lambda i: "" if i % 3 else str(i % 2)),
            "Pipeline 'insurance': target 'insurance' is missing in 26 of 40 rows; "
            "rows without a target cannot train or evaluate, so filter them out in "
            "get_queryset() or fill the target in.",
        ),
        (
            rows_of(16),
            "Pipeline 'insurance' has 16 rows with a target; a 70/30 split into "
            "training and evaluation needs at least 17, so that each side gets 5 or "
            "more. Add rows, or widen get_queryset().",
        ),
        (
            rows_of(30, target=lambda i: "" if i < 14 else str(i % 2)),
            "Pipeline 'insurance' has 16 rows with a target; a 70/30 split into "
            "training and evaluation needs at least 17, so that each side gets 5 or "
            "more. Add rows, or widen get_queryset().",
        ),
    ],
)
def test_rows_that_cannot_train_are_refused(tmp_path, rows, message):
    assert refusal(tmp_path, InsurancePipeline(), rows) == message


def test_seventeen_rows_with_a_target_are_enough_for_a_70_30_split(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write_rows(tmp_path / "rows.csv", [["age", "insurance"], *rows_of(17)])

    assert transform(layout, path, tmp_path / "features.csv").rows == 17


def test_more_classes_than_multiclass_allows(tmp_path):
    rows = [[f"A{i}", f"plan {i}"] for i in range(101)]

    assert refusal(tmp_path, PlanPipeline(), rows) == (
        "Pipeline 'plans': target 'plan' has 101 classes; Amazon ML's MULTICLASS "
        "models take at most 100. Group the rare classes into fewer in "
        "get_queryset() or row(), or, if the target is a quantity, train a "
        "REGRESSION model."
    )


def test_a_regression_target_that_never_varies_is_refused(tmp_path):
    rows = [[f"m{i % 3}", "80.0"] for i in range(20)]

    assert refusal(tmp_path, RatePipeline(), rows) == (
        "Pipeline 'rates': target 'avg_price_per_room' holds '80.0' in every one "
        "of the 20 rows; a REGRESSION model needs a target that varies. Check the "
        "filter of get_queryset()."
    )


def test_binary_targets_are_counted_by_meaning(tmp_path):
    layout = layout_for(InsurancePipeline())
    spelled = ["Yes", "0", "1"]
    path = write_rows(
        tmp_path / "rows.csv",
        [["age", "insurance"], *rows_of(18, target=lambda i: spelled[i % 3])],
    )

    result = transform(layout, path, tmp_path / "features.csv")

    assert result.target_counts == {"1": 12, "0": 6}


def test_constant_and_id_like_features_are_excluded_with_a_warning(tmp_path, caplog):
    wide = type("Wide", (RatePipeline,), {"fields": WIDE_FIELDS})
    layout = layout_for(wide())
    path = write_rows(
        tmp_path / "rows.csv",
        [
            ["meal", "agent", "company", "lead_time", "avg_price_per_room"],
            *([f"m{i % 3}", f"agent {i}", "", "7", str(i)] for i in range(60)),
        ],
    )

    result = transform(layout, path, tmp_path / "features.csv", batch_size=25)

    assert result.schema["excludedAttributeNames"] == ["agent", "company", "lead_time"]
    assert result.warnings == [
        "Attribute 'agent' holds a different value in each of the 60 rows, as an "
        "id does; it is excluded, since it cannot teach the model anything. Name "
        "it in excluded to say so.",
        "Attribute 'company' is missing in every one of the 60 rows; it is "
        "excluded, since it cannot teach the model anything. Name it in excluded "
        "to say so.",
        "Attribute 'lead_time' holds '7' in every one of the 60 rows; it is "
        "excluded, since it cannot teach the model anything. Name it in excluded "
        "to say so.",
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"Pipeline rates: {warning}" for warning in result.warnings
    ]
    written = json.loads((tmp_path / "features.csv.schema").read_text())
    assert written["excludedAttributeNames"] == ["agent", "company", "lead_time"]


def test_distinct_values_in_few_rows_do_not_make_an_id(tmp_path):
    layout = layout_for(RatePipeline())
    path = write_rows(
        tmp_path / "rows.csv",
        [["meal", "avg_price_per_room"], *([f"m{i}", str(i)] for i in range(49))],
    )

    result = transform(layout, path, tmp_path / "features.csv")

    assert result.schema["excludedAttributeNames"] == []
    assert result.warnings == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["age", "insured"],
            "Pipeline 'insurance': the header of rows.csv differs from its schema at "
            "column 3: it has 'insured' where its schema has 'insurance'. Run the "
            "step that writes it again.",
        ),
        (
            ["age"],
            "Pipeline 'insurance': the header of rows.csv differs from its schema at "
            "column 3: it ends where its schema has 'insurance'. Run the step that "
            "writes it again.",
        ),
        (
            ["age", "insurance", "extra"],
            "Pipeline 'insurance': the header of rows.csv differs from its schema at "
            "column 4: it has 'extra' past the end of its schema. Run the step that "
            "writes it again.",
        ),
    ],
)
def test_a_rows_file_whose_header_differs_is_refused(tmp_path, header, message):
    assert refusal(tmp_path, InsurancePipeline(), rows_of(20), header) == message


def test_rows_without_their_primary_key_column_are_refused(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("age,insurance\n30,1\n")

    with pytest.raises(DataError) as refused:
        transform(layout_for(InsurancePipeline()), path, tmp_path / "features.csv")

    assert str(refused.value) == (
        "Pipeline 'insurance': the header of rows.csv differs from its schema at "
        "column 1: it has 'age' where its schema has '(primary key)'. Run the step "
        "that writes it again."
    )
