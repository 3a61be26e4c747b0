"""Read the records of a CSV data file as a stream (spec §7, §19.5).

The file is read as bytes, in blocks of 1 MiB split on newlines, so each
record's starting byte offset is known (the random split needs it) and
memory stays bounded whatever the file size. Lines end in ``\\n`` or
``\\r\\n``; text is UTF-8 and a leading byte-order mark is dropped. Lines
are decoded and parsed in batches: a batch without a double quote or a
carriage return is split on commas (all the :mod:`csv` module would do),
others go through the :mod:`csv` module; values may not contain line
breaks. :func:`read_columns` gives the same records as
:func:`read_records`, dealt into columns.

A record is invalid when it is longer than 102,400 bytes, is not valid
UTF-8 or CSV, or has a different number of fields than the schema has
attributes. More than 10,000 invalid records end the job. [ENGINE] Empty
lines are skipped: they are neither records nor invalid records.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, BinaryIO

import numpy as np

from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.schema import Schema
from mlpipeline.engine.split import Rearrangement

__all__ = [
    "MAX_INVALID_RECORDS",
    "MAX_RECORD_BYTES",
    "ReadReport",
    "count_records",
    "count_selected",
    "iter_lines",
    "read_columns",
    "read_records",
]

logger = logging.getLogger(__name__)

MAX_RECORD_BYTES = 102400
MAX_INVALID_RECORDS = 10000
_BOM = b"\xef\xbb\xbf"
_MAX_PROBLEMS = 5
_BLOCK_BYTES = 1 << 20


@dataclass
class ReadReport:
    """Counts gathered while reading one data file.

    ``records`` counts the data records of the file, ``selected`` those the
    rearrangement kept, ``invalid`` the selected records that were rejected.
    ``problems`` describes the first few rejections.
    """

    records: int = 0
    selected: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> int:
        """Return the number of selected records that were parsed."""
        return self.selected - self.invalid

    def reject(self, line_no: int, reason: str) -> None:
        """Count one invalid record and end the job past the limit."""
        self.invalid += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(f"line {line_no}: {reason}")
        if self.invalid > MAX_INVALID_RECORDS:
            problems = "; ".join(self.problems)
            raise JobFailedError(
                f"More than {MAX_INVALID_RECORDS} records were rejected, so the "
                f"data file was rejected; first problems: {problems}."
            )


def iter_lines(
    handle: BinaryIO, max_bytes: int = MAX_RECORD_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(offset, content)`` for each line of a binary file.

    ``content`` excludes the line terminator and, on the first line, a
    UTF-8 byte-order mark; it is ``None`` for lines longer than
    ``max_bytes``, which are skipped without being held in memory.
    """
    for start, contents, lengths in _line_blocks(handle, max_bytes):
        yield from zip(_offsets(start, lengths), contents, strict=True)


def _offsets(start: int, lengths: list[int]) -> list[int]:
    """Return the offsets of lines of ``lengths`` bytes, newlines excluded."""
    ends = np.cumsum(np.asarray(lengths, dtype=np.int64) + 1)
    return [start, *(ends[:-1] + start).tolist()]


def _line_blocks(
    handle: BinaryIO, max_bytes: int = MAX_RECORD_BYTES
) -> Iterator[tuple[int, list[bytes | None], list[int]]]:
    """Yield the lines of a binary file a block at a time.

    Each block is ``(start, contents, lengths)``: the offset of its first
    line, the lines as :func:`iter_lines` gives them, and their lengths in
    the file without the newline. A line longer than ``max_bytes + 3``
    bytes is never held whole: the file is read in blocks of 1 MiB and
    such a line is skipped as it goes by.
    """
    # TODO: the cut-off counts a first line's byte order mark and a line's
    # CR, so a record of exactly ``max_bytes`` bytes after a BOM (or with
    # CRLF) is rejected as too long; counting ``len(_BOM)`` more for the
    # first line and the CR here and in ``_finish`` would remove it.
    limit = max_bytes + 3
    offset = 0  # where the unfinished line, ``tail``, starts
    tail = b""
    skipped: int | None = None  # bytes of an overlong line passed so far
    first = True
    while block := handle.read(_BLOCK_BYTES):
        if skipped is not None:
            end = block.find(b"\n")
            if end < 0:
                skipped += len(block)
                continue
            yield offset, [None], [skipped + end]
            offset += skipped + end + 1
            block = block[end + 1 :]
            skipped = None
            first = False
        data = tail + block if tail else block
        lines: list[bytes | None] = data.split(b"\n")  # type: ignore[assignment]
        tail = lines.pop()  # type: ignore[assignment]
        if lines:
            lengths = list(map(len, lines))  # type: ignore[arg-type]
            _finish(lines, lengths, first, b"\r" in data, max_bytes)
            yield offset, lines, lengths
            offset += len(data) - len(tail)
            first = False
        if len(tail) >= limit:
            skipped, tail = len(tail), b""
    if skipped is not None:
        yield offset, [None], [skipped]
    elif tail:
        # The last line has no newline, so a carriage return ending it is
        # part of its content.
        last: list[bytes | None] = [tail]
        _finish(last, [len(tail)], first, False, max_bytes)
        yield offset, last, [len(tail)]


def _finish(
    lines: list[bytes | None],
    lengths: list[int],
    first: bool,
    returns: bool,
    max_bytes: int,
) -> None:
    """Turn newline-terminated lines into contents, in place.

    Strips the carriage return of a ``\\r\\n`` (only looked for when
    ``returns``) and, on the file's first line, the byte-order mark; a
    line of ``max_bytes + 3`` bytes or more, or whose content is longer
    than ``max_bytes``, becomes ``None``.
    """
    if returns:
        lines[:] = [line[:-1] if line[-1:] == b"\r" else line for line in lines]  # type: ignore[index]
    if first and lines[0].startswith(_BOM):  # type: ignore[union-attr]
        lines[0] = lines[0][len(_BOM) :]  # type: ignore[index]
    if max(lengths) > max_bytes:
        limit = max_bytes + 3
        for i, line in enumerate(lines):
            if lengths[i] >= limit or len(line) > max_bytes:  # type: ignore[arg-type]
                lines[i] = None


def _data_lines(
    handle: BinaryIO,
    has_header: bool,
    on_header: Callable[[bytes | None], None] | None = None,
) -> Iterator[tuple[int, int, bytes | None]]:
    """Yield ``(line_no, offset, content)`` of data lines, header skipped.

    ``on_header`` receives the header line's content, if there is one.
    """
    for line_no, (offset, content) in enumerate(iter_lines(handle), start=1):
        if line_no == 1 and has_header:
            if on_header is not None:
                on_header(content)
            continue
        if content == b"":
            continue
        yield line_no, offset, content


def count_records(open_file: Callable[[], BinaryIO], has_header: bool) -> int:
    """Return the number of data records in a file, header excluded."""
    count = 0
    with open_file() as handle:
        for start, contents, _ in _line_blocks(handle):
            if start == 0 and has_header:
                contents = contents[1:]
            count += len(contents) - contents.count(b"")
    return count


def count_selected(
    open_file: Callable[[], BinaryIO],
    has_header: bool,
    rearrangement: Rearrangement,
    *others: Rearrangement,
) -> int:
    """Return how many records of a file ``rearrangement`` selects.

    The count is what :func:`read_records` reports as ``selected``: invalid
    records count, empty lines and the header do not. Nothing is parsed.
    With ``others``, count the records that every rearrangement selects
    (an evaluation uses it to find records it shares with training).

    Parameters
    ----------
    open_file : callable
        Returns a fresh binary file object; called twice for a sequential
        split, which needs the record count first.
    has_header : bool
        Whether the first line is a header.
    rearrangement, *others : Rearrangement
        The selections to count.
    """
    rules = (rearrangement, *others)
    n_records = None
    if any(rule.needs_count for rule in rules):
        n_records = count_records(open_file, has_header)
    selectors = [rule.selector(n_records) for rule in rules]
    with open_file() as handle:
        lines = _data_lines(handle, has_header)
        return sum(
            1
            for index, (_, offset, _) in enumerate(lines)
            if all(select(index, offset) for select in selectors)
        )


def _parse_lines(lines: list[str]) -> list[list[str] | None]:
    """Parse each line as one CSV record; ``None`` where it is malformed."""
    try:
        rows: list[list[str] | None] = list(csv.reader(lines, strict=True))
        # A line ending inside quotes swallows the next one, which shows up
        # as fewer rows than lines; parse line by line to find it.
        if len(rows) == len(lines):
            return rows
    except csv.Error:
        pass
    rows = []
    for line in lines:
        try:
            parsed = list(csv.reader([line], strict=True))
        except csv.Error:
            parsed = []
        rows.append(parsed[0] if len(parsed) == 1 else None)
    return rows


def _header_checker(schema: Schema) -> Callable[[bytes | None], None]:
    def check(content: bytes | None) -> None:
        try:
            fields = _parse_lines([content.decode("utf-8")])[0] if content else None
        except UnicodeDecodeError:
            fields = None
        if fields is None or [f.strip() for f in fields] != schema.names:
            raise JobFailedError(
                f"The header line {fields!r} does not match the schema "
                f"attributes {schema.names!r}."
            )

    return check


def read_records(
    open_file: Callable[[], BinaryIO],
    schema: Schema,
    rearrangement: Rearrangement,
    report: ReadReport,
    batch_size: int = 2048,
    keep_invalid: bool = False,
) -> Iterator[list[list[str]] | list[list[str] | None]]:
    """Yield the valid selected records of a data file in batches.

    Parameters
    ----------
    open_file : callable
        Returns a fresh binary file object; called twice for a sequential
        split, which needs the record count first.
    schema : Schema
        Gives the header flag and the expected number of fields.
    rearrangement : Rearrangement
        Chooses which records are read.
    report : ReadReport
        Updated with the counts while reading.
    batch_size : int, default 2048
        Number of selected lines parsed together.
    keep_invalid : bool, default False
        Yield ``None`` in place of each invalid record, so every selected
        record keeps its position (batch predictions need it).

    Yields
    ------
    list of list of str
        Records whose field count matches the schema (and ``None`` for the
        invalid ones with ``keep_invalid``).

    Raises
    ------
    JobFailedError
        When the header does not match the schema or more than 10,000
        selected records are invalid.
    """
    n_fields = len(schema.attributes)
    for pending in _selected(open_file, schema, rearrangement, report, batch_size):
        yield _parse_batch(pending, n_fields, report, keep_invalid)


def read_columns(
    open_file: Callable[[], BinaryIO],
    schema: Schema,
    rearrangement: Rearrangement,
    report: ReadReport,
    batch_size: int = 2048,
) -> Iterator[list[list[str]]]:
    """Yield the valid selected records of a data file, a column at a time.

    The same records as :func:`read_records`, with the same report; each
    batch is a list holding, per field of the schema, that field's cells
    of the batch's valid records.
    """
    n_fields = len(schema.attributes)
    for pending in _selected(open_file, schema, rearrangement, report, batch_size):
        yield _parse_columns(pending, n_fields, report)


def _selected(
    open_file: Callable[[], BinaryIO],
    schema: Schema,
    rearrangement: Rearrangement,
    report: ReadReport,
    batch_size: int,
) -> Iterator[list[tuple[int, bytes | None]]]:
    """Yield the selected data lines in batches of ``(line_no, content)``."""
    n_records = None
    if rearrangement.needs_count:
        n_records = count_records(open_file, schema.has_header)
    select = rearrangement.selector(n_records)
    # Without percentages every record is selected, or none (complement).
    every = None
    if rearrangement.begin is None or rearrangement.end is None:
        every = not rearrangement.complement
    check_header = _header_checker(schema)

    with open_file() as handle:
        pending: list[tuple[int, bytes | None]] = []
        line_no = 1  # of the block's first line
        index = 0  # records before the block's first line
        for start, contents, lengths in _line_blocks(handle):
            numbers = range(line_no, line_no + len(contents))
            line_no += len(contents)
            if numbers[0] == 1 and schema.has_header:
                check_header(contents[0])
                numbers, contents = numbers[1:], contents[1:]
                start, lengths = start + lengths[0] + 1, lengths[1:]
            if every is None:
                offsets = _offsets(start, lengths) if contents else []
                for number, offset, content in zip(
                    numbers, offsets, contents, strict=True
                ):
                    if content != b"":
                        if select(index, offset):
                            pending.append((number, content))
                        index += 1
            else:
                lines = list(zip(numbers, contents, strict=True))
                if b"" in contents:
                    lines = [line for line in lines if line[1] != b""]
                index += len(lines)
                if every:
                    pending += lines
            report.records = index
            while len(pending) >= batch_size:
                yield pending[:batch_size]
                del pending[:batch_size]
        if pending:
            yield pending
    logger.debug(
        "Read %d records, selected %d, rejected %d",
        report.records,
        report.selected,
        report.invalid,
    )


def _decode(
    pending: list[tuple[int, bytes | None]], report: ReadReport
) -> tuple[list[int], list[str]]:
    """Return the places and texts of the lines of ``pending`` that decode.

    Lines longer than the limit or not valid UTF-8 are rejected, in order.
    """
    report.selected += len(pending)
    contents = [content for _, content in pending]
    if None not in contents:
        # One decode for the whole batch: no UTF-8 sequence can span the
        # joining newline, so the batch decodes exactly when each line does.
        try:
            texts = b"\n".join(contents).decode("utf-8").split("\n")  # type: ignore[arg-type]
        except UnicodeDecodeError:
            pass
        else:
            return list(range(len(texts))), texts
    texts = []
    places = []
    for place, (line_no, content) in enumerate(pending):
        if content is None:
            report.reject(line_no, f"longer than {MAX_RECORD_BYTES} bytes")
            continue
        try:
            texts.append(content.decode("utf-8"))
        except UnicodeDecodeError:
            report.reject(line_no, "not valid UTF-8")
            continue
        places.append(place)
    return places, texts


def _split_lines(texts: list[str]) -> list[list[str] | None]:
    """Return :func:`_parse_lines` of ``texts``, quickly when it can.

    Without a quote or a carriage return the :mod:`csv` module splits a
    line on every comma and nothing else, so ``str.split`` gives the same
    fields.
    """
    joined = "\n".join(texts)
    if '"' in joined or "\r" in joined:
        return _parse_lines(texts)
    return [text.split(",") for text in texts]


def _check_fields(
    pending: list[tuple[int, bytes | None]],
    places: list[int],
    parsed: list[list[str] | None],
    n_fields: int,
    report: ReadReport,
) -> list[list[str] | None]:
    """Return each pending line's record, ``None`` where it is rejected."""
    rows: list[list[str] | None] = [None] * len(pending)
    for place, row in zip(places, parsed, strict=True):
        if row is not None and len(row) == n_fields:
            rows[place] = row
            continue
        line_no = pending[place][0]
        if row is None:
            report.reject(line_no, "malformed CSV quoting")
        else:
            report.reject(line_no, f"expected {n_fields} fields, found {len(row)}")
    return rows


def _parse_batch(
    pending: list[tuple[int, bytes | None]],
    n_fields: int,
    report: ReadReport,
    keep_invalid: bool = False,
) -> list[Any]:
    """Return the records of ``pending``, rejecting the invalid ones.

    With ``keep_invalid`` each rejected record leaves ``None`` in its place.
    """
    places, texts = _decode(pending, report)
    rows = _check_fields(pending, places, _split_lines(texts), n_fields, report)
    if keep_invalid:
        return rows
    return [row for row in rows if row is not None]


def _parse_columns(
    pending: list[tuple[int, bytes | None]], n_fields: int, report: ReadReport
) -> list[list[str]]:
    """Return the fields of the valid records of ``pending``, by column.

    Rejects what :func:`_parse_batch` rejects, in the same order.
    """
    places, texts = _decode(pending, report)
    joined = "\n".join(texts)
    if texts and '"' not in joined and "\r" not in joined:
        # The common case: no quoting, every line with the right number of
        # commas. The batch is then split once and dealt into columns.
        commas = set(map(str.count, texts, repeat(",", len(texts))))
        if commas == {n_fields - 1}:
            cells = joined.replace("\n", ",").split(",")
            return [cells[i::n_fields] for i in range(n_fields)]
    rows = _check_fields(pending, places, _split_lines(texts), n_fields, report)
    valid = [row for row in rows if row is not None]
    if not valid:
        return [[] for _ in range(n_fields)]
    return [list(column) for column in zip(*valid, strict=True)]
