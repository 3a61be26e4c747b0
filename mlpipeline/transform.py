"""Transform: expand extracted rows into the features file and its schema."""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mlpipeline.exceptions import DataError
from mlpipeline.schema import Layout

__all__ = [
    "TransformResult",
    "expand_row",
    "finish",
    "schema_path",
    "transform",
    "write_features",
]

_BINARY_VALUES = {
    "1": "1", "y": "1", "yes": "1", "t": "1", "true": "1",
    "0": "0", "n": "0", "no": "0", "f": "0", "false": "0",
}  # fmt: skip

# A cell holding one of these is quoted by csv.writer (QUOTE_MINIMAL, with
# "\n" ending lines).
_QUOTED_CHARACTERS = ('"', ",", "\n", "\r")

#: Distinct target values counted before the count stops growing; Amazon ML
#: takes at most 100 classes.
_MAX_CLASSES_COUNTED = 1000


@dataclass
class TransformResult:
    """What the transform step wrote and saw of the target."""

    rows: int
    path: Path
    schema_path: Path
    #: Rows per target value (classifiers only; at most 1,000 values).
    target_counts: Counter[str] = field(default_factory=Counter)
    missing_targets: int = 0


def schema_path(features_path: Path) -> Path:
    """Return where the schema of ``features_path`` is written."""
    return features_path.with_name(features_path.name + ".schema")


def transform(
    layout: Layout, rows_path: Path, features_path: Path, *, batch_size: int = 8192
) -> TransformResult:
    """Expand the extracted rows at ``rows_path`` into ``features_path``.

    Rows are read, expanded and written ``batch_size`` at a time: each
    expander gets a whole column of the batch (see
    :meth:`~mlpipeline.expanders.Expander.expand_batch`), and the file a
    batch of rows. Beside the features file goes its Amazon ML data schema
    (``<features file>.schema``). Raise :class:`DataError` naming the
    pipeline, the row and the value when an expander rejects a value, when
    there is no row, or when a classifier's target has fewer than two
    classes.
    """
    with open(rows_path, newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader, None)
        if header != layout.columns:
            raise DataError(
                f"Pipeline {layout.pipeline!r}: {rows_path} has the columns "
                f"{header!r}, not {layout.columns!r}; extract again."
            )
        batches = _file_batches(layout, reader, batch_size)
        result = write_features(layout, batches, features_path)
    return finish(layout, result)


def _file_batches(
    layout: Layout, reader: Iterator[list[str]], batch_size: int
) -> Iterator[list[Sequence[str]]]:
    """Yield the rows of an extracted file as columns, a batch at a time."""
    width = len(layout.columns)
    first_line = 2
    while batch := list(itertools.islice(reader, batch_size)):
        if any(len(row) != width for row in batch):
            _expand_rows(layout, batch, first_line)
        yield list(zip(*batch, strict=True))
        first_line += len(batch)


def write_features(
    layout: Layout, batches: Iterable[list[Sequence[str]]], features_path: Path
) -> TransformResult:
    """Expand batches of extracted rows into the features file ``path``.

    Each batch holds one sequence of cells per extracted column (the
    layout's ``columns``), cells being the text of the extracted file. The
    schema is not written and the rows are not checked: :func:`finish`
    does both. Raise :class:`DataError` naming the pipeline, the row and
    the value when an expander rejects a value; rows are numbered as lines
    of the extracted file would be (its header is line 1).
    """
    target_index = layout.attribute_names.index(layout.target)
    classify = layout.model_type != "REGRESSION"
    result = TransformResult(
        rows=0, path=features_path, schema_path=schema_path(features_path)
    )
    with open(features_path, "w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(layout.attribute_names)
        counts = result.target_counts
        for sources in batches:
            first_line = result.rows + 2
            columns = _expand_batch(layout, sources, first_line)
            _write_rows(sink, writer, columns)
            result.rows += len(sources[0])
            targets = Counter(columns[target_index])
            result.missing_targets += targets.pop("", 0)
            if classify:
                # Values are admitted in order of first appearance, as a
                # row-by-row count would admit them.
                for value, count in targets.items():
                    if value in counts or len(counts) < _MAX_CLASSES_COUNTED:
                        counts[value] += count
    return result


def finish(layout: Layout, result: TransformResult) -> TransformResult:
    """Check the rows :func:`write_features` wrote; write the schema.

    Raise :class:`DataError` when there is no row, when most targets are
    missing, or when a classifier's target has fewer than two classes (or
    a MULTICLASS one more than 100).
    """
    _check_rows(layout, result)
    result.schema_path.write_text(layout.schema_json(), encoding="utf-8")
    return result


def _expand_batch(
    layout: Layout, sources: list[Sequence[str]], first_line: int
) -> list[Sequence[str]]:
    """Return the feature columns of a batch of extracted columns."""
    expanders = {expander.source: expander for expander in layout.expanders}
    columns: list[Sequence[str]] = []
    try:
        for name, values in zip(layout.columns, sources, strict=True):
            expander = expanders.get(name)
            if expander is None:
                columns.append(values)
                continue
            if expander.keep_source:
                columns.append(values)
            columns.extend(expander.expand_batch(values))
    except DataError:
        # Find the first bad row and report it as a row-by-row pass would.
        _expand_rows(layout, list(zip(*sources, strict=True)), first_line)
        raise
    return columns


def _write_rows(sink: TextIO, writer: Any, columns: list[Sequence[str]]) -> None:
    """Write the rows of ``columns`` exactly as ``csv.writer`` writes them.

    Rows of two or more cells none of which needs quoting are joined with
    commas directly, which takes half the writer's time; any other batch
    goes through the writer.
    """
    if len(columns) > 1 and all(map(_plain, columns)):
        try:
            text = "\n".join(map(",".join, zip(*columns, strict=True)))
        except TypeError:
            pass  # a cell that is not a string, which the writer converts
        else:
            sink.write(text + "\n")
            return
    writer.writerows(zip(*columns, strict=True))


def _plain(cells: Sequence[str]) -> bool:
    """Return whether no cell holds a character the CSV writer quotes."""
    try:
        text = "".join(cells)
    except TypeError:
        return False
    return not any(char in text for char in _QUOTED_CHARACTERS)


def _expand_rows(layout: Layout, batch: list[list[str]], first_line: int) -> None:
    """Expand ``batch`` row by row, raising the first row's error."""
    steps = _column_steps(layout)
    for line, row in enumerate(batch, start=first_line):
        features: list[str] = []
        try:
            for step, value in zip(steps, row, strict=True):
                step(value, features)
        except (DataError, ValueError) as err:
            raise DataError(
                f"Pipeline {layout.pipeline!r}, line {line} of the extracted "
                f"rows: {err}"
            ) from None


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
    name, target = layout.pipeline, layout.target
    if result.rows == 0:
        raise DataError(
            f"Pipeline {name!r} has no rows to learn from: its queryset is empty."
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
                    "true/false, y/n, t/f)."
                )
            binary[spelled] += count
        result.target_counts = binary
    if layout.model_type != "REGRESSION" and len(result.target_counts) < 2:
        values = json.dumps(sorted(result.target_counts))
        raise DataError(
            f"Pipeline {name!r}: target {target!r} has only the value(s) {values} "
            f"in {result.rows} rows; a {layout.model_type} model needs at least two "
            "classes."
        )
    classes = len(result.target_counts)
    if layout.model_type == "MULTICLASS" and classes > 100:
        counted = f"at least {classes}" if classes >= _MAX_CLASSES_COUNTED else classes
        raise DataError(
            f"Pipeline {name!r}: target {target!r} has {counted} classes; Amazon "
            "ML's MULTICLASS models take at most 100."
        )
