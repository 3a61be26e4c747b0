"""Transform: expand extracted rows into the features files and their schema.

Each row goes to the training or the evaluation file by its primary key,
the extracted rows' first column (see :mod:`mlpipeline.split`).

What the transform decides from the rows themselves, before anything is
uploaded (each with a message saying what to change):

* rows whose values an expander cannot read are left out and counted as
  rejected, the first few with their reason; more than the pipeline's
  ``max_rejected`` share fails the run;
* a feature holding one value in every row is excluded, and so is a
  CATEGORICAL feature holding a different value in every row (an id under
  another name), each with a warning;
* the target must leave enough rows to split and train: rows at all,
  targets on most of them, two classes or more (at most 100 for
  MULTICLASS), a regression target that varies, enough rows for both sides
  of the split, and a row on each side.

The rows file's header must be the primary key's column and the layout's
columns, or the file is refused naming the first column that differs.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from mlpipeline.engine.csvio import MAX_RECORD_BYTES
from mlpipeline.exceptions import DataError
from mlpipeline.schema import Layout
from mlpipeline.split import PK_COLUMN, SplitWriter

__all__ = [
    "MIN_ROWS_PER_SIDE",
    "TransformResult",
    "check_header",
    "expand_row",
    "finish",
    "min_rows",
    "schema_path",
    "transform",
    "write_features",
]

logger = logging.getLogger(__name__)

_BINARY_VALUES = {
    "1": "1", "y": "1", "yes": "1", "t": "1", "true": "1",
    "0": "0", "n": "0", "no": "0", "f": "0", "false": "0",
}  # fmt: skip

#: Distinct target values counted before the count stops growing; Amazon ML
#: takes at most 100 classes.
_MAX_CLASSES_COUNTED = 1000

#: Rows with a target that the smaller side of the train/evaluation split
#: must expect at least: fewer cannot train and measure a model.
MIN_ROWS_PER_SIDE = 5

#: Rejection reasons kept on the run.
_REASONS_KEPT = 5

#: Rows below which distinct values in every row prove nothing: a few rows
#: of a short code list are often all different by chance.
_MIN_ROWS_FOR_IDS = 50


@dataclass
class TransformResult:
    """What the transform step read, wrote, left out and saw of the target."""

    #: Rows written to the features file.
    rows: int
    path: Path
    schema_path: Path
    #: Rows per target value (classifiers only; at most 1,000 values).
    target_counts: Counter[str] = field(default_factory=Counter)
    missing_targets: int = 0
    #: Rows read from the extracted rows file.
    rows_read: int = 0
    #: Rows left out because a value could not be expanded.
    rejected: int = 0
    #: The first few rejections, each naming the line and the value.
    rejections: list[str] = field(default_factory=list)
    #: Attributes excluded for what their values showed, with the reasons.
    warnings: list[str] = field(default_factory=list)
    #: The data schema written beside the features file.
    schema: dict[str, Any] = field(default_factory=dict)
    #: Rows written to each side's file (see :mod:`mlpipeline.split`).
    split_rows: dict[str, int] = field(default_factory=dict)
    #: What :func:`finish` checks: the features' profile and the writer.
    written: tuple[_Profile, SplitWriter] | None = field(
        default=None, repr=False, compare=False
    )


def schema_path(features_path: Path) -> Path:
    """Return where the schema of ``features_path`` is written."""
    return features_path.with_name(features_path.name + ".schema")


def check_header(
    pipeline: str, path: Path, header: list[str] | None, expected: list[str]
) -> None:
    """Raise :class:`DataError` unless ``header`` is ``expected``.

    The message names the first column that differs. Every file the
    pipeline writes starts with the header its writer decided, so a
    difference means the file was changed, or written for another layout.
    """
    if header == expected:
        return
    if header is None:
        raise DataError(
            f"Pipeline {pipeline!r}: {path.name} is empty, without the header "
            f"{expected!r}; run the step that writes it again."
        )
    pairs = zip_longest(header, expected)
    position, (found, wanted) = next(
        (i, pair) for i, pair in enumerate(pairs, start=1) if pair[0] != pair[1]
    )
    if found is None:
        detail = f"ends where its schema has {wanted!r}"
    elif wanted is None:
        detail = f"has {found!r} past the end of its schema"
    else:
        detail = f"has {found!r} where its schema has {wanted!r}"
    raise DataError(
        f"Pipeline {pipeline!r}: the header of {path.name} differs from its schema "
        f"at column {position}: it {detail}. Run the step that writes it again."
    )


def transform(
    layout: Layout, rows_path: Path, features_path: Path, *, batch_size: int = 8192
) -> TransformResult:
    """Expand the extracted rows at ``rows_path`` into features files.

    Rows are read, expanded and written ``batch_size`` at a time: each
    expander gets a whole column of the batch (see
    :meth:`~mlpipeline.expanders.Expander.expand_batch`), and the CSV writer
    a batch of rows. A row with a value an expander rejects is left out and
    counted. Each row goes to the training or the evaluation file named by
    :func:`~mlpipeline.split.split_paths` of ``features_path``, as the
    layout's split rule assigns its primary key. Beside them goes their
    Amazon ML data schema (``<features_path>.schema``), which excludes the
    attributes the rows showed to be useless. Raise :class:`DataError`
    naming the pipeline (and the rows and values) when more rows are
    rejected than ``max_rejected`` allows, or when the rows cannot train a
    model (see the module docstring); no schema is written then, and the
    error's ``result`` holds what was counted.
    """
    with open(rows_path, newline="", encoding="utf-8") as source:
        reader = _rows(layout.pipeline, rows_path, csv.reader(source))
        header = [PK_COLUMN, *layout.columns]
        check_header(layout.pipeline, rows_path, next(reader, None), header)
        batches = (
            _Batch.of_rows(batch, len(header))
            for batch in iter(lambda: list(itertools.islice(reader, batch_size)), [])
        )
        result = write_features(layout, batches, features_path)
    return finish(layout, result)


def write_features(
    layout: Layout,
    batches: Iterable[_Batch | list[Sequence[str]]],
    features_path: Path,
) -> TransformResult:
    """Expand batches of extracted rows into the features files.

    Each batch holds the extracted file's columns, as
    :func:`~mlpipeline.extract.extract_batches` yields them: the primary
    keys, then one sequence of cells per column of the layout. Rows are
    expanded, rejected and split as :func:`transform` does, but neither
    checked nor given their schema: :func:`finish` does both.
    """
    target_index = layout.attribute_names.index(layout.target)
    classify = layout.model_type != "REGRESSION"
    result = TransformResult(
        rows=0, path=features_path, schema_path=schema_path(features_path)
    )
    profile = _Profile(layout)
    with SplitWriter(features_path, layout.split, layout.attribute_names) as sink:
        counts = result.target_counts
        for batch in batches:
            if not isinstance(batch, _Batch):
                batch = _Batch(batch[0], batch[1:])
            first_line = result.rows_read + 2
            result.rows_read += len(batch.keys)
            keys, columns = _expand_batch(layout, batch, first_line, result)
            if not columns or not columns[0]:
                continue
            sink.writecolumns(keys, columns)
            result.rows += len(columns[0])
            profile.update(columns)
            targets = Counter(columns[target_index])
            result.missing_targets += targets.pop("", 0)
            if classify:
                # Values are admitted in order of first appearance, as a
                # row-by-row count would admit them.
                for value, count in targets.items():
                    if value in counts or len(counts) < _MAX_CLASSES_COUNTED:
                        counts[value] += count
    result.written = (profile, sink)
    return result


def finish(layout: Layout, result: TransformResult) -> TransformResult:
    """Check the rows :func:`write_features` wrote; write their schema.

    Raise :class:`DataError` as :func:`transform` does, with the error's
    ``result`` set.
    """
    assert result.written is not None, "finish() takes write_features()'s result"
    profile, sink = result.written
    try:
        _check_rejected(layout, result)
        _check_rows(layout, result)
        _check_varies(layout, result, profile)
        sink.check(layout.pipeline)
    except DataError as err:
        err.result = result  # type: ignore[attr-defined]
        raise
    result.split_rows = sink.rows
    excluded = profile.useless(result)
    _check_features_left(layout, excluded, result)
    result.schema = replace(layout, excluded=[*layout.excluded, *excluded]).schema()
    result.schema_path.write_text(json.dumps(result.schema, indent=2), "utf-8")
    return result


def _rows(pipeline: str, path: Path, reader: Any) -> Iterator[list[str]]:
    """Yield ``reader``'s rows; a value over csv's field limit is a DataError.

    csv refuses a field over :func:`csv.field_size_limit` (128 KiB), which
    is past Amazon ML's 102,400 bytes per observation anyway, so such a row
    fails the run as the pre-flight check fails one a little smaller, with
    the size of its line, instead of raising csv's own error. The limit is
    process-wide, so it is left as it is.
    """
    try:
        yield from reader
    except csv.Error as err:
        if "field limit" not in str(err):
            raise
        line = reader.line_num
        with open(path, "rb") as handle:
            size = len(next(itertools.islice(handle, line - 1, None)).rstrip(b"\r\n"))
        raise DataError(
            f"Pipeline {pipeline!r}: line {line} of {path.name} holds {size} bytes; "
            f"Amazon ML skips observations over {MAX_RECORD_BYTES} bytes. Shorten "
            "or exclude its longest text values."
        ) from None


@dataclass
class _Batch:
    """A batch of extracted rows: their keys and their columns of cells.

    A batch read from a file whose rows are not all as wide as its header
    keeps the rows instead (``columns`` is ``None``), for the row-by-row
    expansion that names them.
    """

    keys: Sequence[str]
    columns: list[Sequence[str]] | None
    rows: list[list[str]] | None = None

    @classmethod
    def of_rows(cls, rows: list[list[str]], width: int) -> _Batch:
        """Return the batch of rows that start with their key."""
        if all(len(row) == width for row in rows):
            keys, *columns = zip(*rows, strict=True)
            return cls(keys, columns)
        keys = [row[0] if row else "" for row in rows]
        return cls(keys, None, [row[1:] for row in rows])

    def cell_rows(self) -> Iterator[Sequence[str]]:
        """Return the rows' cells after their key."""
        if self.rows is not None:
            return iter(self.rows)
        assert self.columns is not None
        return zip(*self.columns, strict=True)


class _Profile:
    """Watch each feature for a value that never changes, or never repeats.

    A column stays a candidate while every value seen equals its first one
    (constant) or, for a CATEGORICAL feature, while no value has repeated
    (an id); the 64-bit hashes of an id candidate's values are kept to
    compare across batches.
    """

    def __init__(self, layout: Layout) -> None:
        skipped = {layout.row_id, *layout.excluded}
        self.pipeline = layout.pipeline
        self.names = layout.attribute_names
        self.target = self.names.index(layout.target)
        self.constant: dict[int, str] = {}
        self.ids: dict[int, list[np.ndarray]] = {}
        for index, (name, kind) in enumerate(layout.attributes):
            if name in skipped:
                continue
            self.constant[index] = ""
            if kind == "CATEGORICAL" and index != self.target:
                self.ids[index] = []
        self._first = True

    def update(self, columns: list[Sequence[str]]) -> None:
        if self._first:
            self.constant = {i: columns[i][0] for i in self.constant}
            self._first = False
        for index, value in list(self.constant.items()):
            if columns[index].count(value) != len(columns[index]):
                del self.constant[index]
        for index, hashes in list(self.ids.items()):
            values = columns[index]
            if len(set(values)) != len(values):
                del self.ids[index]
            else:
                hashes.append(np.fromiter(map(hash, values), np.int64, len(values)))

    def target_value(self) -> str | None:
        """Return the target's one value if it never changed."""
        return self.constant.get(self.target)

    def useless(self, result: TransformResult) -> list[str]:
        """Return the features to exclude; log and keep a warning for each."""
        excluded = []
        for index, value in self.constant.items():
            if index == self.target:
                continue
            held = f"holds {value!r}" if value else "is missing"
            excluded.append((index, f"{held} in every one of the {result.rows} rows"))
        if result.rows >= _MIN_ROWS_FOR_IDS:
            for index, hashes in self.ids.items():
                if index not in self.constant and _distinct(hashes):
                    excluded.append(
                        (index, f"holds a different value in each of the "
                         f"{result.rows} rows, as an id does")
                    )  # fmt: skip
        names = []
        for index, reason in sorted(excluded):
            name = self.names[index]
            warning = (
                f"Attribute {name!r} {reason}; it is excluded, since it cannot "
                "teach the model anything. Name it in excluded to say so."
            )
            logger.warning("Pipeline %s: %s", self.pipeline, warning)
            result.warnings.append(warning)
            names.append(name)
        return names


def _distinct(hashes: list[np.ndarray]) -> bool:
    joined = np.concatenate(hashes) if hashes else np.zeros(0, np.int64)
    return len(np.unique(joined)) == len(joined)


def _expand_batch(
    layout: Layout, batch: _Batch, first_line: int, result: TransformResult
) -> tuple[Sequence[str], list[Sequence[str]]]:
    """Return the keys and the feature columns of a batch of extracted rows.

    Rows that cannot be expanded are left out and recorded on ``result``,
    named by their key and line; the batch is then expanded row by row to
    find them.
    """
    width = len(layout.columns)
    if batch.columns is not None:
        try:
            return batch.keys, _expand_columns(layout, batch.columns)
        except (DataError, ValueError):
            pass
    steps = _column_steps(layout)
    kept, rows = [], []
    lines = zip(itertools.count(first_line), batch.keys, batch.cell_rows())
    for line, key, row in lines:
        features: list[str] = []
        try:
            if len(row) != width:
                raise DataError(f"it holds {len(row)} values, not {width}")
            for step, value in zip(steps, row, strict=True):
                step(value, features)
        except (DataError, ValueError) as err:
            where = f"line {line} of the extracted rows (primary key {key!r})"
            _reject(result, f"{where}: {err}")
            continue
        kept.append(key)
        rows.append(features)
    return kept, [list(column) for column in zip(*rows, strict=True)]


def _expand_columns(
    layout: Layout, sources: list[Sequence[str]]
) -> list[Sequence[str]]:
    expanders = {expander.source: expander for expander in layout.expanders}
    columns: list[Sequence[str]] = []
    for name, values in zip(layout.columns, sources, strict=True):
        expander = expanders.get(name)
        if expander is None or expander.keep_source:
            columns.append(values)
        if expander is not None:
            columns.extend(expander.expand_batch(values))
    return columns


def _reject(result: TransformResult, reason: str) -> None:
    result.rejected += 1
    if len(result.rejections) < _REASONS_KEPT:
        result.rejections.append(reason.rstrip("."))


def _check_rejected(layout: Layout, result: TransformResult) -> None:
    """Raise unless the rows rejected stay within ``max_rejected``."""
    if not result.rejected:
        return
    reasons = "; ".join(result.rejections)
    if result.rejected <= layout.max_rejected * result.rows_read:
        logger.warning(
            "Pipeline %s: %d of %d rows rejected, within max_rejected; first: %s",
            layout.pipeline, result.rejected, result.rows_read, reasons,
        )  # fmt: skip
        return
    share = result.rejected / result.rows_read
    raise DataError(
        f"Pipeline {layout.pipeline!r} rejected {result.rejected} of "
        f"{result.rows_read} extracted rows ({share:.1%}), more than its "
        f"max_rejected ({layout.max_rejected:.1%}) allows; first: {reasons}. Fix "
        "those values, or raise max_rejected to leave such rows out."
    )


def expand_row(layout: Layout, row: list[str]) -> list[str]:
    """Return the features of one extracted ``row``, as transform writes."""
    features: list[str] = []
    for step, value in zip(_column_steps(layout), row, strict=True):
        step(value, features)
    return features


def _column_steps(layout: Layout) -> list[Callable[[str, list[str]], None]]:
    """Return, per extracted column, a function adding its features."""
    expanders = {expander.source: expander for expander in layout.expanders}
    steps = []
    for column in layout.columns:
        expander = expanders.get(column)
        if expander is None:
            steps.append(_keep)
        elif expander.keep_source:
            steps.append(_keep_and_expand(expander.expand))
        else:
            steps.append(_expand(expander.expand))
    return steps


def _keep(value: str, features: list[str]) -> None:
    features.append(value)


def _expand(expand: Callable[[str], list[str]]) -> Callable[[str, list[str]], None]:
    def step(value: str, features: list[str]) -> None:
        features.extend(expand(value))

    return step


def _keep_and_expand(
    expand: Callable[[str], list[str]],
) -> Callable[[str, list[str]], None]:
    def step(value: str, features: list[str]) -> None:
        features.append(value)
        features.extend(expand(value))

    return step


def _check_rows(layout: Layout, result: TransformResult) -> None:
    """Raise :class:`DataError` when the target cannot train a model."""
    name, target = layout.pipeline, layout.target
    if result.rows == 0:
        raise DataError(
            f"Pipeline {name!r} has no rows to learn from: its queryset is empty. "
            "Add rows, or widen get_queryset()."
        )
    if result.missing_targets * 2 > result.rows:
        raise DataError(
            f"Pipeline {name!r}: target {target!r} is missing in "
            f"{result.missing_targets} of {result.rows} rows; rows without a "
            "target cannot train or evaluate, so filter them out in "
            "get_queryset() or fill the target in."
        )
    if layout.model_type == "BINARY":
        binary = Counter()
        for value, count in result.target_counts.items():
            spelled = _BINARY_VALUES.get(value.strip().lower())
            if spelled is None:
                raise DataError(
                    f"Pipeline {name!r}: target {target!r} holds {value!r} in "
                    f"{count} rows, which is not a binary value (1/0, yes/no, "
                    "true/false, y/n, t/f). Filter such rows out in get_queryset(), "
                    "or train a MULTICLASS model on a CATEGORICAL target."
                )
            binary[spelled] += count
        result.target_counts = binary
    if layout.model_type != "REGRESSION" and len(result.target_counts) < 2:
        values = json.dumps(sorted(result.target_counts))
        raise DataError(
            f"Pipeline {name!r}: target {target!r} has only the value(s) {values} "
            f"in {result.rows} rows; a {layout.model_type} model needs at least two "
            "classes. Learn from rows where the target varies: check the filter "
            "of get_queryset()."
        )
    classes = len(result.target_counts)
    if layout.model_type == "MULTICLASS" and classes > 100:
        counted = f"at least {classes}" if classes >= _MAX_CLASSES_COUNTED else classes
        raise DataError(
            f"Pipeline {name!r}: target {target!r} has {counted} classes; Amazon "
            "ML's MULTICLASS models take at most 100. Group the rare classes into "
            "fewer in get_queryset() or row(), or, if the target is a quantity, "
            "train a REGRESSION model."
        )
    _check_split_size(layout, result.rows - result.missing_targets)


def _check_split_size(layout: Layout, rows: int) -> None:
    """Raise unless each side of the split may expect enough rows."""
    percent = layout.train_percent
    needed = min_rows(percent)
    if rows < needed:
        raise DataError(
            f"Pipeline {layout.pipeline!r} has {rows} rows with a target; a "
            f"{percent}/{100 - percent} split into training and evaluation needs "
            f"at least {needed}, so that each side gets {MIN_ROWS_PER_SIDE} or "
            "more. Add rows, or widen get_queryset()."
        )


def min_rows(train_percent: int) -> int:
    """Return the fewest rows with a target that a split may take."""
    return math.ceil(MIN_ROWS_PER_SIDE * 100 / min(train_percent, 100 - train_percent))


def _check_features_left(
    layout: Layout, excluded: list[str], result: TransformResult
) -> None:
    """Raise when the rows showed every feature useless: nothing to learn."""
    if any(name not in excluded for name in layout.features):
        return
    err = DataError(
        f"Pipeline {layout.pipeline!r}: no feature left after excluding constant or "
        f"id-like columns {', '.join(excluded)}; a model needs a feature whose "
        "values vary and repeat. Learn from more varied rows (check "
        "get_queryset()), or add fields."
    )
    err.result = result  # type: ignore[attr-defined]
    raise err


def _check_varies(layout: Layout, result: TransformResult, profile: _Profile) -> None:
    value = profile.target_value()
    if layout.model_type == "REGRESSION" and value is not None:
        raise DataError(
            f"Pipeline {layout.pipeline!r}: target {layout.target!r} holds "
            f"{value!r} in every one of the {result.rows} rows; a REGRESSION model "
            "needs a target that varies. Check the filter of get_queryset()."
        )
