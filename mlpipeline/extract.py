"""Extract: stream a pipeline's rows from the database into a CSV file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from mlpipeline.exceptions import DataError
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import Layout

__all__ = ["extract", "iter_rows"]

#: How many rows pass between two calls of a progress callback.
PROGRESS_EVERY = 10_000


def extract(
    pipeline: Pipeline,
    layout: Layout,
    path: Path,
    *,
    chunk_size: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the rows of ``pipeline`` to the CSV file ``path``; count them.

    The file has a header line with the layout's columns. Rows are read with
    ``QuerySet.iterator(chunk_size=...)`` in primary-key order unless the
    queryset is ordered, so the table is never held in memory and the same
    table gives the same file. Model instances are built only when the
    pipeline defines ``row()``; otherwise the columns are read with
    ``values_list``.
    """
    queryset = pipeline.get_queryset()
    if not queryset.ordered:
        queryset = queryset.order_by("pk")

    count = 0
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(layout.columns)
        for row in iter_rows(pipeline, layout, queryset, chunk_size=chunk_size):
            writer.writerow(row)
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
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
) -> Iterator[list[str]]:
    """Yield the rows of ``queryset`` as lists of CSV cells, chunk by chunk."""
    if pipeline.uses_row_method:
        rows: Iterable[Sequence[Any]] = _rows_from_method(
            pipeline, layout, queryset.iterator(chunk_size=chunk_size)
        )
    else:
        rows = queryset.values_list(*layout.columns).iterator(chunk_size=chunk_size)
    formatters = layout.formatters
    for row in rows:
        yield [fmt(value) for fmt, value in zip(formatters, row, strict=True)]


def _rows_from_method(
    pipeline: Pipeline, layout: Layout, instances: Iterable[Any]
) -> Iterable[Sequence[Any]]:
    width = len(layout.columns)
    for instance in instances:
        row = pipeline.row(instance)
        if len(row) != width:
            raise DataError(
                f"Pipeline {layout.pipeline!r}: row() returned {len(row)} values "
                f"for {instance!r} (pk {instance.pk!r}); its fields name {width}."
            )
        yield row
