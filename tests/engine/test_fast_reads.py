"""The fast paths of reading give exactly what the general paths give.

Reading splits unquoted lines with ``str.split``, deals whole batches into
columns, parses NUMERIC columns in bulk and encodes CATEGORICAL columns a
distinct value at a time; each is checked here against the path it
shortcuts, on inputs chosen to fall off the fast path half-way.
"""

import functools
import io
import random

import numpy as np
import pytest

from mlpipeline.engine import csvio
from mlpipeline.engine.csvio import (
    MAX_RECORD_BYTES,
    ReadReport,
    _parse_lines,
    _split_lines,
    count_records,
    iter_lines,
    read_columns,
    read_records,
)
from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.recipe import parse_expression
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.sketch import DistinctSketch
from mlpipeline.engine.split import Rearrangement, parse_rearrangement
from mlpipeline.engine.values import (
    INVALID,
    build_table,
    parse_binary,
    parse_column,
    parse_numeric,
    pick,
    table_of_columns,
)

from .conftest import schema_json

TYPES = {"x": "NUMERIC", "c": "CATEGORICAL"}

TRICKY_LINES = [
    b"a,b,c",
    b'"a,b",c,d',
    b'"say ""hi""",x,y',
    b'"open,x,y',
    b'"a"b,c,d',
    b"a,b",
    b"a,b,c,d",
    b"a\rb,c,d",
    b"\xff\xfe,x,y",
    b"\xc3\xa9,\xe2\x82\xac,1e3",
    b"a\x00b,c,d",
    b" , , ",
    b",,",
    b"x," + b"y" * MAX_RECORD_BYTES + b",z",
    b"1,2,3",
]


def _schema(n=3, header=False):
    return parse_schema(
        schema_json([(f"c{i}", "CATEGORICAL") for i in range(n)], header=header)
    )


def _both(data, schema, rearrangement=None, batch_size=2048):
    """Return records and report of read_records, then of read_columns."""
    results = []
    for reader in (read_records, read_columns):
        report = ReadReport()
        batches = list(
            reader(
                lambda: io.BytesIO(data),
                schema,
                rearrangement or Rearrangement(),
                report,
                batch_size=batch_size,
            )
        )
        if reader is read_columns:
            batches = [[list(row) for row in zip(*b, strict=True)] for b in batches]
        rows = [row for batch in batches for row in batch]
        results.append((rows, vars(report)))
    return results


def _random_file(rng, n_lines, tricky_share):
    lines = []
    for _ in range(n_lines):
        if rng.random() < tricky_share:
            lines.append(rng.choice([*TRICKY_LINES, b""]))
        else:
            lines.append(b"%d,%d,v%d" % (rng.randrange(9), rng.randrange(99), _))
    ends = [rng.choice([b"\n", b"\r\n"]) for _ in lines]
    return b"\xef\xbb\xbf" + b"".join(a + b for a, b in zip(lines, ends, strict=True))


def test_split_lines_matches_the_csv_module_on_random_lines():
    rng = random.Random(7)
    alphabet = ["a", ",", '"', " ", "\r", "\x00", "é", "1", "e", "\t", "\\", "'"]
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9)))
        assert _split_lines([line]) == _parse_lines([line]), repr(line)
    lines = ["a,b", "c,,d", " x , y "]
    assert _split_lines(lines) == _parse_lines(lines) == [t.split(",") for t in lines]


def test_columns_and_records_agree_on_each_tricky_line():
    for line in TRICKY_LINES:
        data = b"\xef\xbb\xbfok,1,2\r\n" + line + b"\r\n\nlast,3,4"
        by_rows, by_columns = _both(data, _schema())
        assert by_rows == by_columns, line


@pytest.mark.parametrize("batch_size", [1, 3, 64, 2048])
@pytest.mark.parametrize("tricky_share", [0.0, 0.01, 0.3])
def test_columns_and_records_agree_on_random_files(batch_size, tricky_share):
    rng = random.Random(batch_size * 100 + int(tricky_share * 100))
    data = _random_file(rng, 600, tricky_share)
    by_rows, by_columns = _both(data, _schema(), batch_size=batch_size)
    assert by_rows == by_columns
    rows, report = by_rows
    assert len(rows) == report["selected"] - report["invalid"]


def test_columns_and_records_agree_under_a_random_split_and_a_header():
    rng = random.Random(3)
    data = b"c0,c1,c2\n" + _random_file(rng, 500, 0.1)[3:]
    split = parse_rearrangement(
        '{"splitting": {"percentBegin": 10, "percentEnd": 60, "strategy": "random"}}'
    )
    by_rows, by_columns = _both(data, _schema(header=True), split, 50)
    assert by_rows == by_columns
    assert 0 < by_rows[1]["selected"] < by_rows[1]["records"]


def test_columns_fail_past_the_invalid_limit_as_records_do():
    data = b"a,b\n" * 10001
    for reader in (read_records, read_columns):
        with pytest.raises(JobFailedError, match="More than 10000 records"):
            list(
                reader(
                    lambda: io.BytesIO(data), _schema(), Rearrangement(), ReadReport()
                )
            )


def test_a_batch_with_no_valid_record_gives_empty_columns():
    report = ReadReport()
    batches = list(
        read_columns(lambda: io.BytesIO(b"a,b\n"), _schema(), Rearrangement(), report)
    )
    assert batches == [[[], [], []]]
    assert report.problems == ["line 1: expected 3 fields, found 2"]


def _slow_column(cells, attr_type):
    parse = parse_numeric if attr_type == "NUMERIC" else parse_binary
    parsed = [parse(c) if c is not None else (np.nan, 1) for c in cells]
    return np.array([p[0] for p in parsed]), np.array([p[1] for p in parsed])


NUMERIC_CELLS = [
    "1e3",
    " 2 ",
    "nan",
    "inf",
    "-inf",
    "-0",
    "+.5",
    "5.",
    "1e999",
    "-1e999",
    "123456789012345678901234567890",
    "0x10",
    "1_000",
    "\u0665",
    "",
    "1e-400",
    "2E+3",
    "1.5.2",
]


@pytest.mark.parametrize("attr_type", ["NUMERIC", "BINARY"])
def test_numeric_columns_parse_as_cell_by_cell(attr_type):
    rng = random.Random(11)
    for _ in range(300):
        size = rng.randrange(1, 12)
        pool = NUMERIC_CELLS + ["1", "0", "yes", "-2.5", "7"] * 4
        cells = [rng.choice(pool) for _ in range(size)]
        if rng.random() < 0.5:
            cells = [c for c in cells if c.strip() and c[0] in "+-0123456789."]
            cells = cells or ["1"]
        column = parse_column(cells, attr_type)
        values, status = _slow_column(cells, attr_type)
        # Bit for bit, so -0.0 and NaN compare too.
        assert column.values.view(np.int64).tolist() == (
            values.astype(float).view(np.int64).tolist()
        ), cells
        assert column.status.tolist() == status.tolist(), cells


def test_an_all_numbers_column_keeps_negative_zero_and_rejects_overflow():
    column = parse_column(["-0", "1e999", "123456789012345678901234567890"], "NUMERIC")
    assert np.signbit(column.values[0]) and column.status.tolist() == [0, 2, 0]
    assert np.isnan(column.values[1]) and column.values[2] == 1.2345678901234568e29


def test_a_number_cell_holding_a_line_break_is_invalid_not_two_numbers():
    # The bulk check matches the cells joined by line breaks; a cell with
    # its own line break must not pass as two numbers.
    column = parse_column(["3", "4\n5", "6"], "NUMERIC")
    assert column.status.tolist() == [0, INVALID, 0]
    assert column.values[0] == 3.0 and np.isnan(column.values[1])


def test_columns_parse_as_records_do():
    schema = parse_schema(
        schema_json(
            [("n", "NUMERIC"), ("c", "CATEGORICAL"), ("b", "BINARY"), ("t", "TEXT")]
        )
    )
    rows = [["1", "a", "yes", "x y"], [" 2", "", "0", " "], ["x", "b", "", ""]]
    positions = {n: i for i, n in enumerate(schema.names)}
    by_rows = build_table(rows, positions, schema.types)
    columns = [list(c) for c in zip(*rows, strict=True)]
    by_columns = table_of_columns(columns, 3, positions, schema.types)
    for name in schema.names:
        left, right = by_rows[name], by_columns[name]
        assert left.status.tolist() == right.status.tolist()
        if name in ("n", "b"):
            assert np.array_equal(left.values, right.values, equal_nan=True)
        else:
            assert left.values == right.values


def test_categorical_encoding_numbers_new_values_by_first_appearance():
    types = {"c": "CATEGORICAL", "d": "CATEGORICAL"}
    space = FeatureSpace([parse_expression("c"), parse_expression("d")], types)
    space.begin_fit()
    space.end_pass()
    space.begin_vocabulary()
    first = build_table(
        [["b", "x"], ["a", ""], ["", "x"], ["b", "y"]], {"c": 0, "d": 1}, types
    )
    second = build_table([["c", "y"], ["a", "z"]], {"c": 0, "d": 1}, types)
    dense = [space.encode(t).toarray() for t in (first, second)]
    # Provisional columns: 0 and 1 for the outputs, then c's b, a, then
    # d's x, y, then c's new value c and d's new value z.
    assert [np.flatnonzero(row).tolist() for row in dense[0]] == [
        [2, 4],
        [3],
        [4],
        [2, 5],
    ]
    assert [np.flatnonzero(row).tolist() for row in dense[1]] == [[5, 6], [3, 7]]
    remap = space.end_vocabulary()
    assert space.tokens_ == [["a", "b", "c"], ["x", "y", "z"]]
    assert remap[2:].tolist() == [1, 0, 3, 4, 2, 5]


def test_distinct_sketch_keeps_what_a_union_of_all_hashes_keeps():
    rng = np.random.default_rng(5)
    sketch = DistinctSketch(capacity=300)
    kept = np.zeros(0, dtype=np.uint64)
    for _ in range(60):
        block = rng.integers(0, 2**64 - 1, 40, dtype=np.uint64, endpoint=True)
        block = np.concatenate([block, block[:5], kept[:3]])
        sketch.add_hashes(block)
        kept = np.union1d(kept, block)[:300]
        assert sketch._hashes.dtype == np.uint64
        assert sketch._hashes.tolist() == kept.tolist()
    assert sketch.count() > 300


def test_pick_and_a_select_keeping_everything():
    assert pick(["a", "b", "c"], np.array([2, 0, 2])) == ["c", "a", "c"]
    assert pick(["a"], np.array([0])) == ["a"] and pick(["a"], []) == []
    table = build_table([["1", "a"], ["2", ""]], {"x": 0, "c": 1}, TYPES)
    every = table.select(np.array([True, True]))
    assert every.n_rows == 2 and every["c"].values == ["a", None]
    one = table.select(np.array([False, True]))
    assert one["c"].values == [None] and one["c"].status.tolist() == [1]


def _readline_lines(handle, max_bytes):
    """The line rules, one ``readline`` at a time (the reference)."""
    limit = max_bytes + 3
    offset, first = 0, True
    while chunk := handle.readline(limit):
        start = offset
        offset += len(chunk)
        too_long = False
        while not chunk.endswith(b"\n") and len(chunk) == limit:
            too_long = True
            chunk = handle.readline(limit)
            offset += len(chunk)
        if too_long:
            first = False
            yield start, None
            continue
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        if first and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        first = False
        yield start, (chunk if len(chunk) <= max_bytes else None)


def _random_bytes(rng, max_bytes):
    pieces = [b"a", b",", b"\r", b"\n", b"\r\n", b"\n\n", b"\xef\xbb\xbf", b"xyz"]
    pieces.append(b"y" * rng.randrange(max_bytes - 2, max_bytes + 6))
    start = rng.choice([b"", b"\xef\xbb\xbf"])
    return start + b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))


@pytest.mark.parametrize("block", [1, 2, 5, 13, 1 << 20])
def test_lines_read_in_blocks_match_lines_read_one_by_one(block, monkeypatch):
    monkeypatch.setattr(csvio, "_BLOCK_BYTES", block)
    rng = random.Random(block)
    for _ in range(400):
        max_bytes = rng.randrange(1, 9)
        data = _random_bytes(rng, max_bytes)
        expected = list(_readline_lines(io.BytesIO(data), max_bytes))
        assert list(iter_lines(io.BytesIO(data), max_bytes)) == expected, data


@pytest.mark.parametrize("block", [1000, 1 << 20])
def test_selected_lines_and_counts_match_the_line_by_line_rules(block, monkeypatch):
    monkeypatch.setattr(csvio, "_BLOCK_BYTES", block)
    rng = random.Random(block)
    long_line = b"z" * (MAX_RECORD_BYTES + 5)
    splits = [
        Rearrangement(),
        parse_rearrangement('{"splitting": {"percentBegin": 20, "percentEnd": 70}}'),
        parse_rearrangement('{"splitting": {"complement": true}}'),
        parse_rearrangement(
            '{"splitting": {"percentBegin": 0, "percentEnd": 50, "strategy": "random"}}'
        ),
    ]
    for _ in range(15):
        lines = [rng.choice([b"", b"a,b,c", b"d,e,f\r", long_line]) for _ in range(30)]
        data = b"\xef\xbb\xbfc0,c1,c2\r\n" + b"\n".join(lines)
        for has_header in (True, False):
            numbered = list(enumerate(_readline_lines(io.BytesIO(data), 102400), 1))
            if has_header:
                numbered = numbered[1:]
            records = [(n, o, c) for n, (o, c) in numbered if c != b""]
            assert count_records(
                functools.partial(io.BytesIO, data), has_header
            ) == len(records)
            for split in splits:
                select = split.selector(len(records))
                wanted = [(n, c) for i, (n, o, c) in enumerate(records) if select(i, o)]
                report = ReadReport()
                schema = _schema(header=has_header)
                got = list(
                    csvio._selected(
                        functools.partial(io.BytesIO, data),
                        schema,
                        split,
                        report,
                        batch_size=7,
                    )
                )
                assert [len(b) for b in got[:-1]] == [7] * (len(got) - 1)
                assert [line for b in got for line in b] == wanted
                assert report.records == len(records)
