"""Transform: expand extracted rows into the features file and its schema."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlpipeline.exceptions import DataError
from mlpipeline.schema import Layout

__all__ = ["TransformResult", "expand_row", "schema_path", "transform"]

_BINARY_VALUES = {
    "1": "1", "y": "1", "yes": "1", "t": "1", "true": "1",
    "0": "0", "n": "0", "no": "0", "f": "0", "false": "0",
}  # fmt: skip

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


def transform(layout: Layout, rows_path: Path, features_path: Path) -> TransformResult:
    """Expand the extracted rows at ``rows_path`` into ``features_path``.

    Rows are read and written one at a time. Beside the features file goes
    its Amazon ML data schema (``<features file>.schema``). Raise
    :class:`DataError` naming the pipeline, the row and the value when an
    expander rejects a value, when there is no row, or when a classifier's
    target has fewer than two classes.
    """
    steps = _column_steps(layout)
    target_index = layout.attribute_names.index(layout.target)
    classify = layout.model_type != "REGRESSION"
    result = TransformResult(
        rows=0, path=features_path, schema_path=schema_path(features_path)
    )

    with (
        open(rows_path, newline="", encoding="utf-8") as source,
        open(features_path, "w", newline="", encoding="utf-8") as sink,
    ):
        reader = csv.reader(source)
        header = next(reader, None)
        if header != layout.columns:
            raise DataError(
                f"Pipeline {layout.pipeline!r}: {rows_path} has the columns "
                f"{header!r}, not {layout.columns!r}; extract again."
            )
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(layout.attribute_names)
        counts = result.target_counts
        for line, row in enumerate(reader, start=2):
            features: list[str] = []
            try:
                for step, value in zip(steps, row, strict=True):
                    step(value, features)
            except DataError as err:
                raise DataError(
                    f"Pipeline {layout.pipeline!r}, row {line}: {err}"
                ) from None
            writer.writerow(features)
            result.rows += 1
            target = features[target_index]
            if not target:
                result.missing_targets += 1
            elif classify and (target in counts or len(counts) < _MAX_CLASSES_COUNTED):
                counts[target] += 1

    _check_rows(layout, result)
    result.schema_path.write_text(layout.schema_json(), encoding="utf-8")
    return result


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
    if result.missing_targets == result.rows:
        raise DataError(
            f"Pipeline {name!r}: target {target!r} is missing in all "
            f"{result.rows} rows."
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
    if layout.model_type == "MULTICLASS" and len(result.target_counts) > 100:
        raise DataError(
            f"Pipeline {name!r}: target {target!r} has "
            f"{len(result.target_counts)} classes; Amazon ML's MULTICLASS models "
            "take at most 100."
        )
