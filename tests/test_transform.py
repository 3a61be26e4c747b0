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
    with open(path, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(rows)
    return path


def test_transform_expands_rows_and_writes_the_schema_beside(tmp_path):
    layout = layout_for(PlanPipeline())
    rows = write_rows(
        tmp_path / "rows.csv",
        [["number", "plan"], ["AB1", "gold"], ["Z9Z9", "silver"], ["", "gold"]],
    )

    result = transform(layout, rows, tmp_path / "features.csv")

    with open(tmp_path / "features.csv", newline="") as file:
        written = list(csv.reader(file))
    assert written == [
        ["number_length", "number_base_10", "number_digit_1", "number_digit_2",
         "number_digit_3", "number_digit_4", "plan"],
        ["3", str(int("AB1", 36)), "10", "11", "1", "", "gold"],
        ["4", str(int("Z9Z9", 36)), "35", "9", "35", "9", "silver"],
        ["", "", "", "", "", "", "gold"],
    ]  # fmt: skip
    assert result.rows == 3
    assert result.target_counts == {"gold": 2, "silver": 1}
    schema = json.loads((tmp_path / "features.csv.schema").read_text())
    assert schema["targetAttributeName"] == "plan"
    assert [a["attributeName"] for a in schema["attributes"]] == written[0]


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
