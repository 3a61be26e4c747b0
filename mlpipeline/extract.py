"""Extract: stream a pipeline's rows from the database into a CSV file.

Three paths write the same bytes for the same table:

* on PostgreSQL, when every column can be rendered in SQL exactly as
  :func:`mlpipeline.schema._format_value` renders it in Python, the
  queryset runs as ``COPY (...) TO STDOUT WITH (FORMAT csv)`` and the
  server's output is written to the file as it arrives;
* otherwise, ``values_list(...).iterator(chunk_size=...)`` feeds the CSV
  writer a chunk of rows at a time, converting only the columns that need
  it (on SQLite, integers, booleans and dates are cast to text in SQL, so
  none does);
* model instances are built only for a pipeline that defines ``row()``.

:func:`extract_batches` gives the same rows as text, a batch at a time,
for a transform that takes them straight from the database.

Columns rendered in SQL: integers and foreign keys to them as they are,
booleans as ``1``/``0``, dates as ``YYYY-MM-DD`` (the server's own text of
a date under an ISO DateStyle, else ``to_char``) and strings with line
breaks folded to spaces the way :meth:`str.splitlines` splits them. Floats,
decimals, datetimes and times fall back to the iterator, since PostgreSQL's
text output of them differs from Python's ``repr``/``str``/``isoformat``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import itertools
import operator
import re
import selectors
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import EmptyResultSet
from django.db import InterfaceError, OperationalError, connections, models
from django.db.models import F, Func, QuerySet

from mlpipeline.exceptions import DatabaseUnavailable, DataError
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import Layout, format_value
from mlpipeline.split import PK_COLUMN

__all__ = ["copy_sql", "extract", "extract_batches", "iter_rows"]

#: How many rows pass between two calls of a progress callback.
PROGRESS_EVERY = 10_000
_COPY_BUFFER = 1 << 20

# The characters str.splitlines() breaks at ("\r\n" counts as one break).
_BREAKS = r"[\n\r\v\f\u001c\u001d\u001e\u0085\u2028\u2029]"

_INTEGER_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
)
_TEXT_FIELDS = (models.CharField, models.TextField)


class _FoldedText(Func):
    """Render a string column as the Python formatter does, in SQL.

    Python folds a value only when it holds ``\\n`` or ``\\r``: it drops one
    trailing line break and turns every other break into a space. An empty
    string becomes NULL so that PostgreSQL writes it unquoted, as Python's
    CSV writer does.
    """

    template = (
        "NULLIF(CASE WHEN %(expressions)s ~ '[\\n\\r]' THEN regexp_replace("
        "regexp_replace(%(expressions)s, '(\\r\\n|" + _BREAKS + ")$', ''), "
        "'\\r\\n|" + _BREAKS + "', ' ', 'g') ELSE %(expressions)s END, '')"
    )
    output_field = models.TextField()


class _BooleanDigit(Func):
    template = "(%(expressions)s)::int"
    output_field = models.IntegerField()


class _IsoDate(Func):
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = models.TextField()


class _DateText(Func):
    """A date as the server writes it, ``YYYY-MM-DD`` under an ISO DateStyle.

    Several times cheaper per row than ``to_char``.
    """

    template = "(%(expressions)s)::text"
    output_field = models.TextField()


def extract(
    pipeline: Pipeline,
    layout: Layout,
    path: Path,
    *,
    chunk_size: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the rows of ``pipeline`` to the CSV file ``path``; count them.

    The file has a header line with the layout's columns after
    :data:`~mlpipeline.split.PK_COLUMN`: each row starts with its primary
    key, which decides its side of the evaluation split. Rows come in
    primary-key order unless the queryset is ordered, so the table is never
    held in memory and the same table gives the same file, whichever path
    (``COPY``, ``values_list`` or ``row()``) reads it. Raise
    :class:`~mlpipeline.exceptions.DatabaseUnavailable` when the database
    connection fails meanwhile.
    """
    queryset = _ordered(pipeline)
    with _connection_kept(layout):
        return _extract(pipeline, layout, queryset, path, chunk_size, progress)


@contextlib.contextmanager
def _connection_kept(layout: Layout) -> Iterator[None]:
    """Turn a lost database connection into :class:`DatabaseUnavailable`."""
    try:
        yield
    except (OperationalError, InterfaceError) as err:
        # Connection-level failures only: a server restarted or a backend
        # terminated. Errors in the query itself propagate unchanged.
        cause = (str(err).strip() or type(err).__name__).splitlines()[0]
        raise DatabaseUnavailable(
            f"Pipeline {layout.pipeline!r}: the database connection failed while "
            f"extracting rows ({cause}). Resume the run once the database "
            "answers; the extract starts again."
        ) from err


def _extract(
    pipeline: Pipeline,
    layout: Layout,
    queryset: QuerySet,
    path: Path,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> int:
    copy = None if pipeline.uses_row_method else copy_sql(queryset, layout)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([PK_COLUMN, *layout.columns])
        if copy is not None:
            file.flush()
            count = _copy(queryset.db, copy, file, progress)
            if count is not None:
                return count
            # The server quoted a value Python would not; start again.
            file.seek(0)
            file.truncate()
            writer.writerow([PK_COLUMN, *layout.columns])
        count = _write_chunks(pipeline, layout, queryset, writer, chunk_size, progress)
    return count


def extract_batches(
    pipeline: Pipeline,
    layout: Layout,
    *,
    chunk_size: int,
    batch_size: int = 8192,
    progress: Callable[[int], None] | None = None,
) -> Iterator[list[Sequence[str]]]:
    """Yield the rows of ``pipeline`` as text, ``batch_size`` rows at a time.

    Each batch holds one sequence per column of the extracted file: the
    primary keys first, then the layout's columns; each cell is the text
    that :func:`extract` writes for it and :mod:`csv` reads back, so the
    transform can take the rows straight from the database instead of from
    the extracted file. Rows come in the same order, by the same paths
    (``COPY``, ``values_list`` or ``row()``); ``chunk_size`` rows are
    fetched per database round trip. Raise
    :class:`~mlpipeline.exceptions.DatabaseUnavailable` when the database
    connection fails meanwhile.
    """
    queryset = _ordered(pipeline)
    with _connection_kept(layout):
        text = not pipeline.uses_row_method
        copy = copy_sql(queryset, layout, text=True) if text else None
        if copy is not None:
            width = len(layout.columns) + 1
            yield from _copy_batches(queryset.db, copy, width, progress)
            return
        yield from _text_batches(
            pipeline, layout, queryset, chunk_size, batch_size, progress
        )


def _text_batches(
    pipeline: Pipeline,
    layout: Layout,
    queryset: QuerySet,
    chunk_size: int,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[list[Sequence[str]]]:
    """Yield :func:`extract_batches`' batches read by the iterator."""
    count = reported = 0
    width = len(layout.columns) + 1
    pending: list[list[Any]] = [[] for _ in range(width)]
    rows, converters = _rows(pipeline, layout, queryset, chunk_size, keys=True)
    iterator = iter(rows)
    while True:
        chunk = list(itertools.islice(iterator, chunk_size))
        for column, cells in zip(pending, _columns(chunk, converters), strict=True):
            column.extend(cells)
        if chunk and len(pending[0]) < batch_size:
            continue
        if not pending[0]:
            break
        yield [_text(column) for column in pending]
        count += len(pending[0])
        pending = [[] for _ in range(width)]
        if progress is not None and count - reported >= PROGRESS_EVERY:
            reported = count
            progress(count)
    if progress is not None:
        progress(count)


def _ordered(pipeline: Pipeline) -> QuerySet:
    queryset = pipeline.get_queryset()
    return queryset if queryset.ordered else queryset.order_by("pk")


def _text(cells: Sequence[Any]) -> Sequence[str]:
    """Return cells of :func:`iter_chunks` as the CSV file holds them."""
    try:
        "".join(cells)  # the quickest check that every cell is a string
    except TypeError:
        pass
    else:
        return cells
    # csv.writer writes None as "" and anything else as str() (repr() for
    # floats, which is the same text).
    return ["" if cell is None else str(cell) for cell in cells]


def copy_sql(
    queryset: QuerySet, layout: Layout, *, text: bool = False
) -> tuple[str, tuple] | None:
    """Return the ``COPY`` statement and params of ``queryset``, if any.

    The statement selects the primary key, then the layout's columns, and
    writes CSV; with ``text``, PostgreSQL's text format instead, every cell
    a string (missing values empty, never ``\\N``). Return ``None`` unless
    the database is PostgreSQL, there are at least two columns (Python
    quotes a lone empty cell, PostgreSQL does not) and every column has an
    exact SQL rendering.
    """
    if connections[queryset.db].vendor != "postgresql" or len(layout.columns) < 2:
        return None
    expressions = {}
    iso = _iso_dates(queryset.db)
    columns = [queryset.model._meta.pk.name, *layout.columns]
    for i, column in enumerate(columns):
        expression = _sql_rendering(queryset.model, column, iso)
        if expression is None:
            return None
        expressions[f"_mlpipeline_{i}"] = _TextCell(expression) if text else expression
    rendered = queryset.annotate(**expressions).values_list(*expressions)
    try:
        sql, params = rendered.query.sql_with_params()
    except EmptyResultSet:
        # An empty queryset (``.none()``) has no SQL; the iterator copes.
        return None
    if text:
        return f"COPY ({sql}) TO STDOUT", tuple(params)
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", tuple(params)


class _TextCell(Func):
    template = "COALESCE((%(expressions)s)::text, '')"
    output_field = models.TextField()


def _iso_dates(alias: str) -> bool:
    """Return whether the session writes dates as ``YYYY-MM-DD``."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW DateStyle")
        (style,) = cursor.fetchone()
    return style.replace(" ", "").upper().startswith("ISO,")


def _sqlite_texts(queryset: QuerySet, columns: list[str]) -> QuerySet | None:
    """Return ``values_list`` of the columns as text, on SQLite, if it can.

    Integers, booleans (stored as 0 and 1) and dates (stored as the ISO
    text Django writes) are cast to text by SQLite and missing values made
    empty, so no cell needs converting in Python, which halves the time
    per row; strings come as they are, for the line break folding.
    ``None`` unless the database is SQLite and every column is of those,
    none of a field class that converts what it reads (``from_db_value``).
    """
    if connections[queryset.db].vendor != "sqlite":
        return None
    expressions = {}
    for i, column in enumerate(columns):
        field = _field(queryset.model, column)
        while field is not None and field.is_relation:
            one = field.many_to_one or field.one_to_one
            field = field.target_field if one else None
        if field is None or hasattr(field, "from_db_value"):
            return None
        if isinstance(field, models.BooleanField):
            expression = _SqliteText(_SqliteInteger(F(column)))
        elif isinstance(field, _INTEGER_FIELDS) or (
            isinstance(field, models.DateField)
            and not isinstance(field, models.DateTimeField)
        ):
            expression = _SqliteText(F(column))
        elif isinstance(field, _TEXT_FIELDS):
            expression = _Blank(F(column))
        else:
            return None
        expressions[f"_mlpipeline_{i}"] = expression
    return queryset.annotate(**expressions).values_list(*expressions)


class _SqliteText(Func):
    template = "COALESCE(CAST(%(expressions)s AS TEXT), '')"
    output_field = models.TextField()


class _SqliteInteger(Func):
    template = "CAST(%(expressions)s AS INTEGER)"
    output_field = models.IntegerField()


class _Blank(Func):
    template = "COALESCE(%(expressions)s, '')"
    output_field = models.TextField()


def _sql_rendering(
    model: type[models.Model], column: str, iso_dates: bool
) -> Func | F | None:
    field = _field(model, column)
    if field is None:
        return None
    while field.is_relation:
        if not (field.many_to_one or field.one_to_one) or field.target_field is None:
            return None
        field = field.target_field
    if isinstance(field, models.BooleanField):
        return _BooleanDigit(F(column))
    if isinstance(field, _INTEGER_FIELDS):
        return F(column)
    if isinstance(field, models.DateTimeField):
        return None
    if isinstance(field, models.DateField):
        return _DateText(F(column)) if iso_dates else _IsoDate(F(column))
    if isinstance(field, _TEXT_FIELDS):
        return _FoldedText(F(column))
    return None


def _field(model: type[models.Model], path: str) -> models.Field | None:
    current: Any = model
    found = None
    for part in path.split("__"):
        if current is None:
            return None
        try:
            found = current._meta.get_field(part)
        except Exception:
            return None
        current = found.related_model
    return found


def _copy(
    alias: str,
    statement: tuple[str, tuple],
    file: IO[str],
    progress: Callable[[int], None] | None,
) -> int | None:
    """Stream ``COPY`` output into ``file``; ``None`` if it must be redone.

    The server's blocks (about a row each) are gathered and written a
    megabyte at a time. PostgreSQL quotes a cell holding exactly ``\\.``
    (its old end-of-data marker), which Python's writer leaves bare; such a
    file is abandoned.
    """
    raw = file.buffer  # type: ignore[attr-defined]
    count = reported = 0
    tail = b""
    for data in _copy_buffers(alias, statement):
        if b'"\\."' in tail + data[:8] or b'"\\."' in data:
            return None
        tail = bytes(data[-8:])
        raw.write(data)
        count += data.count(b"\n")
        if progress is not None and count - reported >= PROGRESS_EVERY:
            reported = count
            progress(count)
    if progress is not None:
        progress(count)
    return count


def _copy_buffers(alias: str, statement: tuple[str, tuple]) -> Iterator[bytearray]:
    """Yield the output of a ``COPY ... TO STDOUT`` in buffers of ~1 MB.

    psycopg starts the ``COPY``; its rows (one message each) are then read
    from libpq directly, which takes half the time of psycopg's per-row
    iteration, and the results that end it are read before the cursor is
    used again. Should anything go wrong on the way, psycopg's ``Copy``
    block cancels the statement and drains it.
    """
    sql, params = statement
    buffer = bytearray()
    with connections[alias].cursor() as cursor:
        with cursor.cursor.copy(sql, params):
            pgconn = cursor.cursor.connection.pgconn
            with selectors.DefaultSelector() as selector:
                selector.register(pgconn.socket, selectors.EVENT_READ)
                while True:
                    size, data = pgconn.get_copy_data(1)
                    if size > 0:
                        buffer += data
                        if len(buffer) >= _COPY_BUFFER:
                            yield buffer
                            buffer = bytearray()
                    elif size == 0:
                        selector.select()
                        pgconn.consume_input()
                    else:
                        break
                while pgconn.is_busy():
                    selector.select()
                    pgconn.consume_input()
            _finish_copy(pgconn)
    if buffer:
        yield buffer


def _finish_copy(pgconn: Any) -> None:
    """Read the results that end a ``COPY``; raise the server's error."""
    import psycopg

    while (result := pgconn.get_result()) is not None:
        if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding="utf-8")


def _copy_batches(
    alias: str,
    statement: tuple[str, tuple],
    width: int,
    progress: Callable[[int], None] | None,
) -> Iterator[list[Sequence[str]]]:
    """Yield a text-format ``COPY``'s rows as columns, a buffer at a time.

    Lines end in a line feed and cells are separated by tabs, both escaped
    inside values, so a buffer's cells come from one split; values holding
    a backslash are unescaped.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail = ""
    count = reported = 0
    for buffer in _copy_buffers(alias, statement):
        text = tail + decoder.decode(buffer)
        cut = text.rfind("\n") + 1
        tail = text[cut:]
        if not cut:
            continue
        text = text[: cut - 1]
        cells = text.replace("\n", "\t").split("\t")
        columns = [cells[i::width] for i in range(width)]
        if "\\" in text:
            columns = [_unescaped(column) for column in columns]
        yield columns
        count += len(columns[0])
        if progress is not None and count - reported >= PROGRESS_EVERY:
            reported = count
            progress(count)
    if progress is not None:
        progress(count)


# The escapes of PostgreSQL's COPY text output.
_ESCAPED = re.compile(r"\\(.)")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescaped(cells: list[str]) -> list[str]:
    """Return text-format cells with their backslash escapes undone."""
    if "\\" not in "".join(cells):
        return cells
    return [
        _ESCAPED.sub(lambda m: _ESCAPES.get(m[1], m[1]), cell) if "\\" in cell else cell
        for cell in cells
    ]


def _write_chunks(
    pipeline: Pipeline,
    layout: Layout,
    queryset: QuerySet,
    writer: Any,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> int:
    count = 0
    reported = 0
    chunks = iter_chunks(pipeline, layout, queryset, chunk_size=chunk_size, keys=True)
    for chunk in chunks:
        writer.writerows(chunk)
        count += len(chunk)
        if progress is not None and count - reported >= PROGRESS_EVERY:
            reported = count
            progress(count)
    if progress is not None:
        progress(count)
    return count


def iter_rows(
    pipeline: Pipeline,
    layout: Layout,
    queryset: QuerySet,
    *,
    chunk_size: int,
) -> Iterator[Sequence[Any]]:
    """Yield the rows of ``queryset`` as the CSV writer should write them."""
    for chunk in iter_chunks(pipeline, layout, queryset, chunk_size=chunk_size):
        yield from chunk


def iter_chunks(
    pipeline: Pipeline,
    layout: Layout,
    queryset: QuerySet,
    *,
    chunk_size: int,
    keys: bool = False,
) -> Iterator[list[Sequence[Any]]]:
    """Yield the rows of ``queryset`` in lists of up to ``chunk_size`` rows.

    Each row's cells are what ``csv.writer`` turns into the formatter's
    text: a string, or an ``int``, ``float``, date, ``Decimal`` or ``None``
    that the writer renders identically (``str``, ``repr``, ``""``). With
    ``keys``, each row starts with the instance's primary key.
    """
    rows, converters = _rows(pipeline, layout, queryset, chunk_size, keys=keys)
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, chunk_size)):
        yield _convert(chunk, converters)


_Converter = Callable[[list], list]


def _rows(
    pipeline: Pipeline,
    layout: Layout,
    queryset: QuerySet,
    chunk_size: int,
    *,
    keys: bool,
) -> tuple[Iterable[Sequence[Any]], list[_Converter | None]]:
    """Return the rows of ``queryset`` and how to convert each column."""
    columns, formatters = layout.columns, layout.formatters
    if keys:
        columns = [queryset.model._meta.pk.name, *columns]
        formatters = [format_value, *formatters]
    if pipeline.uses_row_method:
        rows: Iterable[Sequence[Any]] = _rows_from_method(
            pipeline, layout, queryset.iterator(chunk_size=chunk_size), keys
        )
        return rows, [_generic(fmt) for fmt in formatters]
    pairs = list(zip(columns, formatters, strict=True))
    texts = _sqlite_texts(queryset, columns)
    if texts is not None:
        converters = [
            _texts(fmt) if isinstance(_field(queryset.model, column), _TEXT_FIELDS)
            else None
            for column, fmt in pairs
        ]  # fmt: skip
        return texts.iterator(chunk_size=chunk_size), converters
    rows = queryset.values_list(*columns).iterator(chunk_size=chunk_size)
    return rows, [_converter(queryset.model, column, fmt) for column, fmt in pairs]


def _columns(
    chunk: list[Sequence[Any]], converters: list[_Converter | None]
) -> list[list[Any]]:
    """Return the columns of ``chunk``, converted where they need it."""
    columns = [list(map(operator.itemgetter(i), chunk)) for i in range(len(converters))]
    return [
        column if convert is None else convert(column)
        for column, convert in zip(columns, converters, strict=True)
    ]


def _convert(
    chunk: list[Sequence[Any]], converters: list[Callable[[list], list] | None]
) -> list[Sequence[Any]]:
    """Return ``chunk`` with the columns that need it converted."""
    if all(convert is None for convert in converters):
        return chunk
    columns = [list(map(operator.itemgetter(i), chunk)) for i in range(len(converters))]
    changed = False
    for i, convert in enumerate(converters):
        if convert is not None:
            converted = convert(columns[i])
            if converted is not columns[i]:
                columns[i] = converted
                changed = True
    if not changed:
        return chunk
    return list(zip(*columns, strict=True))


def _converter(
    model: type[models.Model], column: str, fmt: Callable[[Any], str]
) -> Callable[[list], list] | None:
    """Return how to convert a column's values for the writer, if needed."""
    field = _field(model, column)
    while field is not None and field.is_relation:
        field = field.target_field if field.many_to_one or field.one_to_one else None
    if field is None:
        return _generic(fmt)
    if isinstance(field, models.BooleanField):
        return _booleans
    if isinstance(field, (*_INTEGER_FIELDS, models.FloatField)):
        # csv.writer writes int as str(), float as repr() and None as "".
        return None
    if isinstance(field, models.DateTimeField):
        return _generic(fmt)
    if isinstance(field, models.DateField):
        return None
    if isinstance(field, _TEXT_FIELDS):
        return _texts(fmt)
    return _generic(fmt)


def _generic(fmt: Callable[[Any], str]) -> Callable[[list], list]:
    def convert(values: list) -> list:
        return list(map(fmt, values))

    return convert


_BOOLEAN_CELLS = {True: "1", False: "0", None: ""}


def _booleans(values: list) -> list:
    return [_BOOLEAN_CELLS[value] for value in values]


def _texts(fmt: Callable[[Any], str]) -> Callable[[list], list]:
    def convert(values: list) -> list:
        # One C-level scan tells whether any value needs its line breaks
        # folded; almost no chunk does.
        try:
            joined = "".join(values)
        except TypeError:
            joined = "".join(value for value in values if value is not None)
        if "\n" in joined or "\r" in joined:
            return list(map(fmt, values))
        return values

    return convert


def _rows_from_method(
    pipeline: Pipeline, layout: Layout, instances: Iterable[Any], keys: bool
) -> Iterable[Sequence[Any]]:
    width = len(layout.columns)
    for instance in instances:
        row = pipeline.row(instance)
        if len(row) != width:
            raise DataError(
                f"Pipeline {layout.pipeline!r}: row() returned {len(row)} values "
                f"for {instance!r} (pk {instance.pk!r}); its fields name {width}."
            )
        yield (instance.pk, *row) if keys else row
