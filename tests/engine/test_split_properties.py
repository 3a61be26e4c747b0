"""Property: a split and its complement partition a file's records.

Whatever the records, the percentages, the strategy and the seed, the
training data source (``percentBegin``-``percentEnd``) and the evaluation
data source (the same with ``complement``) read every record of the file
exactly once between them, and the counts without parsing agree.
"""

import csv
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from mlpipeline.engine.csvio import ReadReport, count_selected, read_records
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.split import parse_rearrangement

SCHEMA = parse_schema(
    json.dumps(
        {
            "dataFileContainsHeader": True,
            "attributes": [
                {"attributeName": "id", "attributeType": "CATEGORICAL"},
                {"attributeName": "value", "attributeType": "CATEGORICAL"},
            ],
        }
    )
)
# Any text a cell may hold once the transform has folded its line breaks.
CELLS = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
    max_size=30,
)
PERCENTS = st.integers(0, 100) | st.floats(0, 100, allow_nan=False)


def data_file(cells: list[str], blank_after: set[int]) -> bytes:
    """Return a features file whose record i has the id i; some blank lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "value"])
    for i, cell in enumerate(cells):
        writer.writerow([str(i), cell])
        if i in blank_after:
            out.write("\n")
    return out.getvalue().encode("utf-8")


def read_ids(data: bytes, rearrangement) -> list[int]:
    report = ReadReport()
    batches = read_records(lambda: io.BytesIO(data), SCHEMA, rearrangement, report)
    ids = [int(row[0]) for batch in batches for row in batch]
    assert report.invalid == 0
    assert count_selected(lambda: io.BytesIO(data), True, rearrangement) == len(ids)
    return ids


@given(
    cells=st.lists(CELLS, max_size=60),
    blank_after=st.sets(st.integers(0, 60), max_size=5),
    bounds=st.tuples(PERCENTS, PERCENTS).map(sorted),
    strategy=st.sampled_from(["random", "sequential"]),
    seed=st.text(max_size=12),
)
def test_a_split_and_its_complement_partition_the_records(
    cells, blank_after, bounds, strategy, seed
):
    data = data_file(cells, blank_after)
    splitting = {
        "percentBegin": bounds[0],
        "percentEnd": bounds[1],
        "strategy": strategy,
        "strategyParams": {"randomSeed": seed},
    }
    train = parse_rearrangement(json.dumps({"splitting": splitting}))
    evaluation = parse_rearrangement(
        json.dumps({"splitting": {**splitting, "complement": True}})
    )

    trained, evaluated = read_ids(data, train), read_ids(data, evaluation)

    assert sorted(trained + evaluated) == list(range(len(cells)))
    assert not set(trained) & set(evaluated)


@given(cells=st.lists(CELLS, min_size=1, max_size=60))
def test_cells_are_read_back_as_written(cells):
    data = data_file(cells, set())

    report = ReadReport()
    batches = read_records(
        lambda: io.BytesIO(data), SCHEMA, parse_rearrangement(None), report
    )

    assert [row for batch in batches for row in batch] == [
        [str(i), cell] for i, cell in enumerate(cells)
    ]
