"""Download: a run's features file for people, safe to open in a spreadsheet.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula, and some do so after a leading tab or carriage return.
The rows come from the project's tables, where anyone who can fill a form
may have typed such a value, and a formula can fetch URLs or start
programs on the machine of whoever opens the file. :func:`spreadsheet_safe`
therefore puts a single quote, which spreadsheets show as text, before
those cells, except cells that are plain numbers (``-3.5``, ``+2``): they
stay numbers.

Only files offered to people go through it. The features file that the
backends train on, in the storage or on S3, keeps every value as extracted.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from django.http import StreamingHttpResponse

from mlpipeline.backends import get_backend
from mlpipeline.exceptions import RunNotFound
from mlpipeline.models import Run

__all__ = ["FORMULA_STARTS", "features_response", "safe_rows", "spreadsheet_safe"]

logger = logging.getLogger(__name__)

#: First characters that make a spreadsheet program read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A number as spreadsheets read one: sign, digits, decimal point, exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


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
    """Return ``run``'s features file as a spreadsheet-safe CSV download.

    The file is streamed from where the run uploaded it (the storage, or
    S3 for the Amazon backend), or from the run's folder when it was only
    transformed. Raise :class:`RunNotFound` when neither holds it any more.
    """
    source = _open_features(run)
    name = f"{run.pipeline}-run-{run.pk}-features.csv"
    response = StreamingHttpResponse(
        _csv_lines(source), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _open_features(run: Run) -> IO[bytes]:
    upload = run.completed_step("upload")
    location = upload.detail.get("location") if upload is not None else None
    try:
        if location:
            return get_backend(run.backend).open_upload(location)
        if run.features_file and Path(run.features_file).is_file():
            return open(run.features_file, "rb")
    except FileNotFoundError:
        pass
    raise RunNotFound(
        f"Run {run.pk} of {run.pipeline!r} has no features file any more: it was "
        "never written, or cleanup_models deleted it."
    )


class _Line:
    """A file-like target for csv.writer that hands back what was written."""

    def write(self, text: str) -> str:
        return text


def _csv_lines(source: IO[bytes]) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\n")
    with source:
        # A stream reader needs only read(), which every storage's file has.
        text = codecs.getreader("utf-8")(source)
        for row in safe_rows(csv.reader(text)):
            yield writer.writerow(row)
