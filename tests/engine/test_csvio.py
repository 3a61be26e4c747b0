import io
import json

import pytest

from mlpipeline.engine.csvio import (
    MAX_RECORD_BYTES,
    ReadReport,
    count_records,
    count_selected,
    iter_lines,
    read_records,
)
from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.split import Rearrangement, parse_rearrangement

from .conftest import schema_json


def _schema(header=False, n=2):
    names = [(f"c{i}", "CATEGORICAL") for i in range(n)]
    return parse_schema(schema_json(names, header=header))


def _read(data: bytes, schema, rearrangement=None):
    report = ReadReport()
    rows = [
        row
        for batch in read_records(
            lambda: io.BytesIO(data), schema, rearrangement or Rearrangement(), report
        )
        for row in batch
    ]
    return rows, report


def test_lf_and_crlf_line_ends_and_bom():
    data = b"\xef\xbb\xbfa,b\r\nc,d\ne,f"
    assert [c for _, c in iter_lines(io.BytesIO(data))] == [b"a,b", b"c,d", b"e,f"]
    rows, report = _read(data, _schema())
    assert rows == [["a", "b"], ["c", "d"], ["e", "f"]]
    assert report.records == report.valid == 3


def test_offsets_are_byte_positions_of_line_starts():
    data = "é,1\nb,2\r\nc,3\n".encode()
    assert [o for o, _ in iter_lines(io.BytesIO(data))] == [0, 5, 10]


def test_header_is_skipped_only_when_declared():
    data = b"c0,c1\nx,y\n"
    with_header, _ = _read(data, _schema(header=True))
    without_header, _ = _read(data, _schema(header=False))
    assert with_header == [["x", "y"]]
    assert without_header == [["c0", "c1"], ["x", "y"]]


def test_header_not_matching_schema_fails_the_job():
    with pytest.raises(JobFailedError, match="header line"):
        _read(b"a,b\nx,y\n", _schema(header=True))


def test_quoted_commas_and_doubled_quotes():
    rows, _ = _read(b'"a,b","say ""hi"""\n', _schema())
    assert rows == [["a,b", 'say "hi"']]


def test_wrong_field_count_and_bad_quoting_are_invalid_records():
    data = b'a,b\na,b,c\nonly\n"open,x\n"a"b,c\nok,fine\n'
    rows, report = _read(data, _schema())
    assert rows == [["a", "b"], ["ok", "fine"]]
    assert report.invalid == 4 and report.selected == 6
    assert report.problems[0] == "line 2: expected 2 fields, found 3"


def test_overlong_record_is_invalid_without_breaking_the_next_one():
    long_line = b"x," + b"y" * MAX_RECORD_BYTES
    rows, report = _read(b"a,b\n" + long_line + b"\nc,d\n", _schema())
    assert rows == [["a", "b"], ["c", "d"]]
    assert report.invalid == 1
    assert "longer than 102400 bytes" in report.problems[0]


def test_record_of_exactly_the_limit_is_valid():
    line = b"x," + b"y" * (MAX_RECORD_BYTES - 2)
    rows, report = _read(line + b"\n", _schema())
    assert report.invalid == 0 and len(rows[0][1]) == MAX_RECORD_BYTES - 2


def test_invalid_utf8_is_an_invalid_record():
    rows, report = _read(b"a,b\n\xff\xfe,x\n", _schema())
    assert rows == [["a", "b"]] and report.invalid == 1


def test_more_than_ten_thousand_invalid_records_fail_the_file():
    data = b"a\n" * 10001
    with pytest.raises(JobFailedError, match="More than 10000 records"):
        _read(data, _schema())
    _, report = _read(b"a\n" * 10000, _schema())
    assert report.invalid == 10000


def test_empty_lines_are_not_records():
    data = b"a,b\n\nc,d\n\n"
    assert count_records(lambda: io.BytesIO(data), has_header=False) == 2
    rows, report = _read(data, _schema())
    assert len(rows) == 2 and report.records == 2


def test_reading_streams_in_batches():
    data = b"".join(b"%d,x\n" % i for i in range(5000))
    batches = list(
        read_records(lambda: io.BytesIO(data), _schema(), Rearrangement(), ReadReport())
    )
    assert len(batches) == 3 and sum(map(len, batches)) == 5000


def test_sequential_split_counts_records_first():
    data = b"".join(b"%d,x\n" % i for i in range(10))
    split = parse_rearrangement(
        json.dumps({"splitting": {"percentBegin": 0, "percentEnd": 70}})
    )
    rows, report = _read(data, _schema(), split)
    assert [r[0] for r in rows] == [str(i) for i in range(7)]
    assert report.records == 10 and report.selected == 7


@pytest.mark.parametrize("complement", [False, True])
@pytest.mark.parametrize("strategy", ["random", "sequential"])
def test_count_selected_matches_what_reading_selects(strategy, complement):
    data = b"c0,c1\n" + b"".join(b"%d,x\n" % i for i in range(500))
    data += b"y" * (MAX_RECORD_BYTES + 1) + b"\n\n"
    split = parse_rearrangement(
        json.dumps(
            {
                "splitting": {
                    "percentBegin": 0,
                    "percentEnd": 70,
                    "strategy": strategy,
                    "strategyParams": {"randomSeed": "seed"},
                    "complement": complement,
                }
            }
        )
    )

    _, report = _read(data, _schema(header=True), split)
    counted = count_selected(lambda: io.BytesIO(data), True, split)

    assert counted == report.selected
