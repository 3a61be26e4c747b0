"""Extract: stream a pipeline's rows from the database into a CSV file.

Three paths write the same bytes for the same table:

* on PostgreSQL, when every column can be rendered in SQL exactly as
  :func:`mlpipeline.schema._format_value` renders it in Python, the
  queryset runs as ``COPY (...) TO STDOUT WITH (FORMAT csv)`` and the
  server's output is written to the file as it arrives;
* otherwise, ``values_list(...).iterator(chunk_size=...)`` feeds the CSV
  writer a chunk of rows at a time, converting only the columns that need
  it;
* model instances are built only for a pipeline that defines ``row()``.

Columns rendered in SQL: integers and foreign keys to them as they are,
booleans as ``1``/``0``, dates as ``YYYY-MM-DD`` and strings with line
breaks folded to spaces the way :meth:`str.splitlines` splits them. Floats,
decimals, datetimes and times fall back to the iterator, since PostgreSQL's
text output of them differs from Python's ``repr``/``str``/``isoformat``.
"""

from __future__ import annotations

import csv
import itertools
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

__all__ = ["copy_sql", "extract", "iter_rows"]

#: How many rows pass between two calls of a progress callback.
PROGRESS_EVERY = 10_000

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
    queryset = pipeline.get_queryset()
    if not queryset.ordered:
        queryset = queryset.order_by("pk")
    try:
        return _extract(pipeline, layout, queryset, path, chunk_size, progress)
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


def copy_sql(queryset: QuerySet, layout: Layout) -> tuple[str, tuple] | None:
    """Return the ``COPY`` statement and params of ``queryset``, if any.

    The statement selects the primary key, then the layout's columns.
    Return ``None`` unless the database is PostgreSQL, there are at least
    two columns (Python quotes a lone empty cell, PostgreSQL does not) and
    every column has an exact SQL rendering.
    """
    if connections[queryset.db].vendor != "postgresql" or len(layout.columns) < 2:
        return None
    expressions = {}
    columns = [queryset.model._meta.pk.name, *layout.columns]
    for i, column in enumerate(columns):
        expression = _sql_rendering(queryset.model, column)
        if expression is None:
            return None
        expressions[f"_mlpipeline_{i}"] = expression
    rendered = queryset.annotate(**expressions).values_list(*expressions)
    try:
        sql, params = rendered.query.sql_with_params()
    except EmptyResultSet:
        # An empty queryset (``.none()``) has no SQL; the iterator copes.
        return None
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", tuple(params)


def _sql_rendering(model: type[models.Model], column: str) -> Func | F | None:
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
        return _IsoDate(F(column))
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

    PostgreSQL quotes a cell holding exactly ``\\.`` (its old end-of-data
    marker), which Python's writer leaves bare; such a file is abandoned.
    """
    sql, params = statement
    raw = file.buffer  # type: ignore[attr-defined]
    count = 0
    reported = 0
    tail = b""
    with connections[alias].cursor() as cursor:
        with cursor.cursor.copy(sql, params) as copy:
            for block in copy:
                data = bytes(block)
                if b'"\\."' in tail + data[:8] or b'"\\."' in data:
                    return None
                tail = data[-8:]
                raw.write(data)
                count += data.count(b"\n")
                if progress is not None and count - reported >= PROGRESS_EVERY:
                    reported = count
                    progress(count)
    if progress is not None:
        progress(count)
    return count


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
    columns, formatters = layout.columns, layout.formatters
    if keys:
        columns = [queryset.model._meta.pk.name, *columns]
        formatters = [format_value, *formatters]
    if pipeline.uses_row_method:
        rows: Iterable[Sequence[Any]] = _rows_from_method(
            pipeline, layout, queryset.iterator(chunk_size=chunk_size), keys
        )
        converters: list[Callable[[list], list] | None] = [
            _generic(fmt) for fmt in formatters
        ]
    else:
        rows = queryset.values_list(*columns).iterator(chunk_size=chunk_size)
        converters = [
            _converter(queryset.model, column, fmt)
            for column, fmt in zip(columns, formatters, strict=True)
        ]
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, chunk_size)):
        yield _convert(chunk, converters)


def _convert(
    chunk: list[Sequence[Any]], converters: list[Callable[[list], list] | None]
) -> list[Sequence[Any]]:
    """Return ``chunk`` with the columns that need it converted."""
    if all(convert is None for convert in converters):
        return chunk
    columns = [list(column) for column in zip(*chunk, strict=True)]
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
