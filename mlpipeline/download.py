"""Download: a run's features file for people, safe to open in a spreadsheet.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula, and some do so after a leading tab or carriage return.
The rows come from the project's tables, where anyone who can fill a form
may have typed such a value, and a formula can fetch URLs or start
programs on the machine of whoever opens the file. :func:`spreadsheet_safe`
therefore puts a single quote, which spreadsheets show as text, before
those cells, except cells that are plain numbers (``-3.5``, ``+2``): they
stay numbers.

A run writes two features files, the training and the evaluation side of
its split by primary key (:mod:`mlpipeline.split`). A person asking for
"the features file" wants every row in one sheet, so the download joins
them: the header once, with a leading :data:`SIDE_COLUMN` saying ``train``
or ``evaluation``, then the training rows, then the evaluation rows. Runs
made before the split by primary key uploaded one file, which is
downloaded as it is, without that column.

Only files offered to people go through it. The features files that the
backends train on, in the storage or on S3, keep every value as extracted.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import IO

from django.http import StreamingHttpResponse

from mlpipeline.backends import get_backend
from mlpipeline.exceptions import RunNotFound
from mlpipeline.models import Run
from mlpipeline.split import SIDES, split_paths

__all__ = [
    "FORMULA_STARTS",
    "SIDE_COLUMN",
    "features_response",
    "safe_rows",
    "spreadsheet_safe",
]

logger = logging.getLogger(__name__)

#: First characters that make a spreadsheet program read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A number as spreadsheets read one: sign, digits, decimal point, exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: Header of the download's first column, the side each row is on. In
#: parentheses, as no Django field can be named so: it never clashes with
#: a pipeline field.
SIDE_COLUMN = "(split)"


def spreadsheet_safe(cell: str) -> str:
    """Return ``cell`` as a spreadsheet will show it as text, not run it.

    A cell starting with one of :data:`FORMULA_STARTS` gets a leading
    single quote, unless it is a plain number such as ``-3.5``, ``+2`` or
    ``-1e-3``, which is returned unchanged.
    """
    if cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def safe_rows(rows: Iterable[list[str]]) -> Iterator[list[str]]:
    """Yield ``rows`` with each cell made :func:`spreadsheet_safe`."""
    for row in rows:
        yield [spreadsheet_safe(cell) for cell in row]


def features_response(run: Run) -> StreamingHttpResponse:
    """Return ``run``'s features as one spreadsheet-safe CSV download.

    The files are streamed from where the run uploaded them (the storage,
    or S3 for the Amazon backend), or from the run's folder when it was
    only transformed. Raise :class:`RunNotFound` when any of them is gone.
    """
    sources = _open_features(run)
    name = f"{run.pipeline}-run-{run.pk}-features.csv"
    response = StreamingHttpResponse(
        _csv_lines(sources), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _open_features(run: Run) -> dict[str | None, IO[bytes]]:
    """Open ``run``'s features files, by side (``None`` for a single file).

    Every file is opened before the download starts, so that a missing one
    is said in the admin rather than cutting the download short.
    """
    with ExitStack() as opened:
        try:
            sources = {
                side: opened.enter_context(open_file())
                for side, open_file in _features_files(run).items()
            }
        except FileNotFoundError:
            sources = {}
        if sources:
            opened.pop_all()
            return sources
    raise RunNotFound(
        f"Run {run.pk} of {run.pipeline!r} has no features file any more: it was "
        "never written, or cleanup_models deleted it."
    )


def _features_files(run: Run) -> dict[str | None, Callable[[], IO[bytes]]]:
    """Return how to open each of ``run``'s features files, by side."""
    upload = run.completed_step("upload")
    detail = upload.detail if upload is not None else {}
    if "locations" in detail:
        backend = get_backend(run.backend)
        return {
            side: partial(backend.open_upload, detail["locations"][side])
            for side in SIDES
        }
    if detail.get("location"):
        # A run made before the split by primary key uploaded one file.
        return {None: partial(get_backend(run.backend).open_upload, detail["location"])}
    if not run.features_file:
        return {}
    local = Path(run.features_file)
    sides = split_paths(local)
    if not any(path.is_file() for path in sides.values()) and local.is_file():
        # Transformed before the split by primary key: one file.
        return {None: partial(open, local, "rb")}
    return {side: partial(open, path, "rb") for side, path in sides.items()}


class _Line:
    """A file-like target for csv.writer that hands back what was written."""

    def write(self, text: str) -> str:
        return text


def _csv_lines(sources: dict[str | None, IO[bytes]]) -> Iterator[str]:
    """Yield the CSV lines of ``sources`` in one file, the header once."""
    writer = csv.writer(_Line(), lineterminator="\n")
    header_written = False
    with ExitStack() as opened:
        for source in sources.values():
            opened.enter_context(source)
        for side, source in sources.items():
            # A stream reader needs only read(), which all storage files have.
            rows = safe_rows(csv.reader(codecs.getreader("utf-8")(source)))
            header = next(rows, None)
            if header is not None and not header_written:
                header_written = True
                yield writer.writerow(_led(side, SIDE_COLUMN, header))
            for row in rows:
                yield writer.writerow(_led(side, side, row))


def _led(side: str | None, first: str | None, row: list[str]) -> list[str]:
    """Return ``row`` led by ``first``, or as it is for a run's single file."""
    return row if side is None else [first, *row]
