"""Read a transform's two features files back, in the extracted rows' order."""

import csv

from mlpipeline.engine.csvio import ReadReport, read_records
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.split import Rearrangement
from mlpipeline.split import split_paths
from mlpipeline.transform import schema_path


def engine_records(layout, rows_path, features_path):
    """Return the schema and the records the engine reads from both files.

    The records come in the order of the extracted rows at ``rows_path``,
    each taken from the side its primary key went to; every row must have
    been written (none rejected), and none may read as invalid.
    """
    schema = parse_schema(schema_path(features_path).read_text())
    sides, counts = {}, []
    for side, path in split_paths(features_path).items():
        report = ReadReport()
        batches = read_records(
            lambda path=path: open(path, "rb"), schema, Rearrangement(), report
        )
        sides[side] = iter([row for batch in batches for row in batch])
        counts.append((report.records, report.invalid))
    with open(rows_path, newline="", encoding="utf-8") as file:
        keys = [row[0] for row in csv.reader(file)][1:]
    records = [next(sides[side]) for side in layout.split.sides(keys)]
    assert [next(rows, None) for rows in sides.values()] == [None, None]
    assert [sum(column) for column in zip(*counts, strict=True)] == [len(records), 0]
    return schema, records
