import csv
import json

import pytest

from mlpipeline import LongIdExpander, Pipeline
from mlpipeline.exceptions import DataError
from mlpipeline.schema import layout_for
from mlpipeline.transform import transform
from project.demo.models import Insured, Policy


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


def write_rows(path, rows):
    """Write extracted rows: a header, then rows; keys 1, 2, ... go first."""
    header, *values = rows
    keyed = [["(primary key)", *header]]
    keyed += [[str(pk), *row] for pk, row in enumerate(values, start=1)]
    with open(path, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(keyed)
    return path


def read_features(tmp_path):
    """Return the rows of the training and the evaluation file."""
    written = {}
    for kind in ("train", "evaluation"):
        with open(tmp_path / f"features-{kind}.csv", newline="") as file:
            written[kind] = list(csv.reader(file))
    return written


def test_transform_expands_rows_and_writes_the_schema_beside(tmp_path):
    layout = layout_for(PlanPipeline())
    rows = write_rows(
        tmp_path / "rows.csv",
        [["number", "plan"], ["AB1", "gold"], ["Z9Z9", "silver"], ["", "gold"],
         ["C", "gold"]],
    )  # fmt: skip

    result = transform(layout, rows, tmp_path / "features.csv")

    # Key 1 evaluates and keys 2 to 4 train, by sha256("plans|<key>").
    header = [
        "number_length", "number_base_10", "number_digit_1", "number_digit_2",
        "number_digit_3", "number_digit_4", "plan",
    ]  # fmt: skip
    assert read_features(tmp_path) == {
        "train": [
            header,
            ["4", str(int("Z9Z9", 36)), "35", "9", "35", "9", "silver"],
            ["", "", "", "", "", "", "gold"],
            ["1", "12", "12", "", "", "", "gold"],
        ],
        "evaluation": [
            header,
            ["3", str(int("AB1", 36)), "10", "11", "1", "", "gold"],
        ],
    }
    assert not (tmp_path / "features.csv").exists()
    assert result.rows == 4
    assert result.split_rows == {"train": 3, "evaluation": 1}
    assert result.target_counts == {"gold": 3, "silver": 1}
    schema = json.loads((tmp_path / "features.csv.schema").read_text())
    assert schema["targetAttributeName"] == "plan"
    assert [a["attributeName"] for a in schema["attributes"]] == header


def test_expander_error_names_pipeline_row_and_value(tmp_path):
    layout = layout_for(PlanPipeline())
    rows = write_rows(
        tmp_path / "rows.csv", [["number", "plan"], ["AB1", "x"], ["A*B", "y"]]
    )

    with pytest.raises(
        DataError,
        match=r"Pipeline 'plans', line 3 of the extracted rows: number value 'A\*B'",
    ):
        transform(layout, rows, tmp_path / "features.csv")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "Pipeline 'insurance' has no rows to learn from: its queryset is empty"),
        (
            [["30", "1"], ["40", "true"]],
            r"target 'insurance' has only the value\(s\) \[\"1\"\] in 2 rows",
        ),
        ([["30", "maybe"]], "target 'insurance' holds 'maybe' in 1 rows"),
        ([["30", ""]], "target 'insurance' is missing in 1 of 1 rows"),
        (
            [["30", ""], ["31", "1"], ["32", ""], ["33", "0"], ["34", ""]],
            "target 'insurance' is missing in 3 of 5 rows; rows without a target",
        ),
    ],
)
def test_rows_that_cannot_train_are_refused(tmp_path, rows, message):
    layout = layout_for(InsurancePipeline())
    path = write_rows(tmp_path / "rows.csv", [["age", "insurance"], *rows])

    with pytest.raises(DataError, match=message):
        transform(layout, path, tmp_path / "features.csv")
    assert not (tmp_path / "features.csv.schema").exists()


def test_binary_targets_are_counted_by_meaning(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write_rows(
        tmp_path / "rows.csv",
        [["age", "insurance"], ["1", "Yes"], ["2", "0"], ["3", "1"]],
    )

    result = transform(layout, path, tmp_path / "features.csv")

    assert result.target_counts == {"1": 2, "0": 1}
