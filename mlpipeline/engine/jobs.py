"""The work of data source, training and evaluation jobs.

Each function does one job's work and returns what the entity records. A
data problem raises :class:`JobFailedError`, which the caller turns into a
FAILED entity; the functions never change entity status themselves.

Every job reads its records in blocks, so memory does not grow with the
file. Training reads its selection twice: once to fit the feature space
and summarise the target (one more time per level of nested
``quantile_bin``/``normalize`` calls), then to encode the rows into a
temporary folder (:class:`~mlpipeline.engine.spill.SpilledRows`) that every
SGD pass reads back a bucket at a time. Its memory depends on the number
of features and outputs, not of rows.

[ENGINE] rules:

* Records whose target is missing or invalid are skipped by training and
  evaluation and counted as invalid.
* The weights take 8 bytes each; when ``(n_features + 1) * n_outputs * 8``
  exceeds ``sgd.maxMLModelSizeInBytes``, only the features present in the
  most training records are kept (ties by column order). The feature
  vocabulary is not counted.
* A REGRESSION target is standardised for training and predictions are
  mapped back.
* The random generator that shuffles the training rows is seeded from the
  SHA-256 of the MLModelId.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import logging
import math
import os
import platform
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import numpy as np
import scipy

from mlpipeline.engine.csvio import ReadReport, read_columns
from mlpipeline.engine.errors import InvalidInputException, JobFailedError
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.metrics import (
    RankedScores,
    Residuals,
    ScoreHistogram,
    confusion_matrix_of_counts,
    macro_f1_of_counts,
)
from mlpipeline.engine.params import TrainingParameters
from mlpipeline.engine.predictor import DEFAULT_THRESHOLD, Predictor
from mlpipeline.engine.recipe import parse_recipe, suggest_recipe
from mlpipeline.engine.schema import Schema
from mlpipeline.engine.sgd import SGDTrainer
from mlpipeline.engine.sketch import Moments
from mlpipeline.engine.spill import SpilledRows
from mlpipeline.engine.split import Rearrangement
from mlpipeline.engine.statistics import StatisticsBuilder, records_summary
from mlpipeline.engine.store import Store
from mlpipeline.engine.values import OK, Column, Table, table_of_columns

__all__ = [
    "MAX_CLASSES",
    "METRIC_NAMES",
    "build_data_source",
    "evaluate_model",
    "open_data",
    "train_model",
]

logger = logging.getLogger(__name__)

MAX_CLASSES = 100
METRIC_NAMES = {
    "BINARY": "BinaryAUC",
    "MULTICLASS": "MulticlassAvgFScore",
    "REGRESSION": "RegressionRMSE",
}
_LOSSES = {"BINARY": "logistic", "MULTICLASS": "softmax", "REGRESSION": "squared"}
_WEIGHT_BYTES = 8


def open_data(store: Store, location: str) -> Callable[[], BinaryIO]:
    """Return an opener for a data file, failing the job if it is missing."""
    if not store.exists(location):
        raise JobFailedError(f"The data file {location!r} does not exist in the store.")
    return lambda: store.open(location)


def _read_blocks(
    store: Store,
    location: str,
    schema: Schema,
    rearrangement: Rearrangement,
    types: dict[str, str],
    report: ReadReport,
) -> Iterator[Table]:
    """Return the selected records of a data file as parsed blocks.

    ``types`` chooses the attributes parsed and their types; attributes the
    file lacks are all missing. A missing file fails at once; the records
    are read lazily.
    """
    opener = open_data(store, location)
    positions = {name: i for i, name in enumerate(schema.names)}
    batches = read_columns(opener, schema, rearrangement, report)
    return (
        table_of_columns(columns, len(columns[0]), positions, types)
        for columns in batches
    )


def _no_records(location: str, report: ReadReport) -> str:
    return (
        f"No valid records were selected from {location!r} "
        f"({report.records} records in the file, {report.selected} selected, "
        f"{report.invalid} invalid)."
    )


def build_data_source(
    store: Store,
    location: str,
    schema: Schema,
    rearrangement: Rearrangement,
    compute_statistics: bool,
) -> tuple[int, dict[str, Any]]:
    """Read a data source's records and describe them.

    Returns
    -------
    size : int
        Size of the data file in bytes.
    statistics : dict
        Record counts, plus per-attribute statistics when
        ``compute_statistics`` is true (see :mod:`statistics`).

    Raises
    ------
    JobFailedError
        If the file is missing, its header does not match, more than 10,000
        records are invalid or no valid record is selected.
    """
    report = ReadReport()
    builder = StatisticsBuilder(schema) if compute_statistics else None
    # Without statistics the records are still read, to count and check
    # them, but no attribute is parsed.
    types = schema.types if builder is not None else {}
    blocks = _read_blocks(store, location, schema, rearrangement, types, report)
    size = store.size(location)
    for block in blocks:
        if builder is not None:
            builder.update(block)
    if report.valid == 0:
        raise JobFailedError(_no_records(location, report))
    if builder is None:
        return size, {"records": records_summary(report), "target": None}
    return size, builder.result(report)


def _temporary_folder(
    temp_dir: str | None, prefix: str
) -> tempfile.TemporaryDirectory[str]:
    """Return a new temporary folder inside ``temp_dir``, made if missing."""
    if temp_dir is not None:
        os.makedirs(temp_dir, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=temp_dir)


def _seed(entity_id: str) -> int:
    return int.from_bytes(hashlib.sha256(entity_id.encode()).digest()[:8], "big")


class _TargetScan:
    """Summarise the training target while the feature space is fitted."""

    def __init__(self, model_type: str) -> None:
        self.model_type = model_type
        self.rows = 0
        self.binary = np.zeros(2, dtype=np.int64)
        self.labels: Counter[str] = Counter()
        self.moments = Moments()

    def add(self, column: Column) -> None:
        self.rows += len(column)
        if self.model_type == "BINARY":
            self.binary += np.bincount(column.values.astype(int), minlength=2)
        elif self.model_type == "MULTICLASS":
            self.labels.update(column.values)
        else:
            self.moments.add(column.values)

    def result(self) -> tuple[list[str], dict[str, Any]]:
        """Return the classes and the target summary to keep.

        Raises
        ------
        JobFailedError
            If a classifier's target has too few or too many classes.
        """
        if self.model_type == "BINARY":
            counts = self.binary
            if counts.min() == 0:
                only = "1" if counts[1] else "0"
                raise JobFailedError(
                    f"The training target has only the value {only!r}; a BINARY "
                    "model needs both 0 and 1."
                )
            class_counts = {"0": int(counts[0]), "1": int(counts[1])}
            return ["0", "1"], {"class_counts": class_counts}
        if self.model_type == "MULTICLASS":
            classes = sorted(str(c) for c in self.labels)
            if len(classes) > MAX_CLASSES:
                raise JobFailedError(
                    f"The training target has {len(classes)} classes; a MULTICLASS "
                    f"model supports at most {MAX_CLASSES}."
                )
            if len(classes) < 2:
                raise JobFailedError(
                    f"The training target has the single class {classes[0]!r}; a "
                    "MULTICLASS model needs at least 2."
                )
            class_counts = {c: int(self.labels[c]) for c in classes}
            return classes, {"class_counts": class_counts}
        mean, std = self.moments.result()
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise JobFailedError(
                f"The training target's mean ({mean:g}) or standard deviation "
                f"({std:g}) is beyond the float range; scale the target down "
                "(e.g. to thousands) or drop the outlying rows."
            )
        std = std if std > 0 else 1.0
        return [], {"target_mean": mean, "target_std": std}


def _target_values(
    model_type: str, column: Column, classes: list[str], summary: dict[str, Any]
) -> np.ndarray:
    """Return a block's training targets as the trainer takes them."""
    if model_type == "BINARY":
        return column.values.astype(np.int64)
    if model_type == "MULTICLASS":
        lookup = {c: i for i, c in enumerate(classes)}
        return np.fromiter(
            (lookup[v] for v in column.values), np.int64, len(column.values)
        )
    return (column.values - summary["target_mean"]) / summary["target_std"]


def _limit_size(
    space: FeatureSpace, rows: SpilledRows, n_out: int, max_bytes: int
) -> int:
    """Keep the most frequent features so the weights fit ``max_bytes``."""
    allowed = max_bytes // (_WEIGHT_BYTES * n_out) - 1
    if allowed < 1:
        raise JobFailedError(
            f"sgd.maxMLModelSizeInBytes {max_bytes} cannot hold even one feature "
            f"for {n_out} outputs."
        )
    n_features = rows.n_features
    if n_features <= allowed:
        return 0
    order = np.argsort(-rows.counts, kind="stable")
    keep = np.zeros(n_features, dtype=bool)
    keep[order[:allowed]] = True
    space.keep(keep)
    rows.keep(keep)
    return int(n_features - allowed)


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        # The compiler of the training loop, read without importing it.
        "numba": importlib.metadata.version("numba"),
    }


def train_model(
    store: Store,
    files: dict[str, str],
    model_id: str,
    model_type: str,
    params: TrainingParameters,
    recipe_text: str | None,
    data_source: dict[str, Any],
    schema: Schema,
    rearrangement: Rearrangement,
    temp_dir: str | None = None,
) -> dict[str, Any]:
    """Train a model on its training data source and save its files.

    Parameters
    ----------
    store : Store
        Holds the data and receives the model files.
    files : dict
        Store names for ``"weights"`` (npz) and ``"space"`` (JSON).
    model_id, model_type : str
        The model's id (seeds the shuffle) and type.
    params : TrainingParameters
        Effective training parameters.
    recipe_text : str or None
        The recipe; ``None`` uses the suggested recipe.
    data_source : dict
        The training data source document (gives location and statistics).
    schema, rearrangement
        The data source's parsed schema and rearrangement.
    temp_dir : str, optional
        Folder for the encoded training rows (in a temporary folder of its
        own, removed afterwards); the system's temporary folder if ``None``.

    Returns
    -------
    dict
        What the model document records: ``recipe``, ``meta`` (for the
        predictor), ``training`` (diagnostics) and ``size``.
    """
    location = data_source["api"]["DataLocationS3"]
    if recipe_text is None:
        stats = data_source["statistics"]
        distinct = {
            name: entry.get("distinct", 0)
            for name, entry in stats["attributes"].items()
            if entry["type"] == "NUMERIC"
        }
        recipe_text = suggest_recipe(schema, stats["records"]["valid"], distinct)
    try:
        recipe = parse_recipe(recipe_text, schema)
    except InvalidInputException as err:
        raise JobFailedError(f"The recipe cannot be used: {err}") from err

    space = FeatureSpace(list(recipe.outputs), schema.types)
    target = schema.target
    scan, report = _fit_space(store, location, schema, rearrangement, space, model_type)
    classes, summary = scan.result()
    n_out = len(classes) if model_type == "MULTICLASS" else 1
    n_rows = scan.rows
    skipped = report.valid - n_rows

    types = {**space.attributes, target: schema.types[target]}
    # The encoded rows take about 12 bytes per stored feature value.
    with _temporary_folder(temp_dir, "mlpipeline-train-") as folder:
        rows = SpilledRows(
            folder,
            n_rows,
            shuffle=params.shuffle,
            seed=_seed(model_id),
            target_dtype=np.float64 if model_type == "REGRESSION" else np.int64,
        )
        space.begin_vocabulary()
        blocks = _read_blocks(
            store, location, schema, rearrangement, types, ReadReport()
        )
        for block in blocks:
            block = block.select(block[target].status == OK)
            y = _target_values(model_type, block[target], classes, summary)
            rows.add(space.encode(block), y)
        rows.finish(space.end_vocabulary(), space.n_features)
        pruned = _limit_size(space, rows, n_out, params.max_model_size)
        trainer = SGDTrainer(
            _LOSSES[model_type],
            l1=params.l1,
            l2=params.l2,
            max_passes=params.max_passes,
            shuffle=params.shuffle,
            random_state=_seed(model_id),
        ).fit_rows(rows, n_classes=len(classes) if model_type == "MULTICLASS" else 0)

    buffer = io.BytesIO()
    np.savez(buffer, coef=trainer.coef_, intercept=trainer.intercept_)
    weights = buffer.getvalue()
    space_json = json.dumps(
        space.to_dict(), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    store.write(files["weights"], weights)
    store.write(files["space"], space_json)
    meta = {
        "model_type": model_type,
        "classes": classes,
        "target": target,
        "target_mean": summary.get("target_mean", 0.0),
        "target_std": summary.get("target_std", 1.0),
    }
    training = {
        "learning_rate": trainer.learning_rate_,
        "passes": trainer.n_passes_,
        "loss": trainer.loss_,
        # JSON has no infinity: a diverged learner's loss is recorded as null.
        "losses": {
            str(rate): loss if math.isfinite(loss) else None
            for rate, loss in trainer.losses_.items()
        },
        "records_used": n_rows,
        "records_invalid": report.invalid + skipped,
        "features": rows.n_features,
        "features_pruned": pruned,
        "library_versions": _versions(),
        **summary,
    }
    logger.info(
        "Trained %s on %d records: %d features, rate %s, %d passes",
        model_id,
        n_rows,
        rows.n_features,
        trainer.learning_rate_,
        trainer.n_passes_,
    )
    return {
        "recipe": recipe_text,
        "meta": meta,
        "training": training,
        "size": len(weights) + len(space_json),
    }


def _fit_space(
    store: Store,
    location: str,
    schema: Schema,
    rearrangement: Rearrangement,
    space: FeatureSpace,
    model_type: str,
) -> tuple[_TargetScan, ReadReport]:
    """Fit ``space`` on the training records; summarise their target.

    Records whose target is missing or invalid are left out. Returns the
    target summary and the first pass's read report.

    Raises
    ------
    JobFailedError
        If no valid record is selected or none has a valid target.
    """
    target = schema.target
    types = {**space.fit_attributes, target: schema.types[target]}
    scan = _TargetScan(model_type)
    first_report = None
    space.begin_fit()
    while first_report is None or not space.fitted:
        report = ReadReport()
        for block in _read_blocks(
            store, location, schema, rearrangement, types, report
        ):
            block = block.select(block[target].status == OK)
            if first_report is None:
                scan.add(block[target])
            space.observe(block)
        space.end_pass()
        if first_report is None:
            first_report = report
            if report.valid == 0:
                raise JobFailedError(_no_records(location, report))
            if scan.rows == 0:
                raise JobFailedError(
                    f"No training record of {location!r} has a valid target {target!r}."
                )
    return scan, first_report


def evaluate_model(
    store: Store,
    predictor: Predictor,
    model: dict[str, Any],
    data_source: dict[str, Any],
    schema: Schema,
    rearrangement: Rearrangement,
    temp_dir: str | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Score a model on an evaluation data source.

    Attribute types come from the training schema, which wins over the
    evaluation schema (spec §8.3); attributes the evaluation file lacks are
    missing. Records are scored a block at a time and only summaries are
    kept (see :class:`_Scorecard`), so memory does not grow with the file;
    a BINARY model's scores, which the AUC ranks, go to a temporary folder
    in ``temp_dir`` (the system's when ``None``) past a million records.

    Returns
    -------
    properties : dict
        ``PerformanceMetrics.Properties``: one metric name to ``str(value)``.
    report : dict
        The engine's ``Report``: metric, value, baseline, record counts,
        ``target_distribution`` (class counts, or the REGRESSION target's
        mean and population standard deviation), for classifiers the
        confusion matrix and, under ``histogram``, the scores per true class
        (BINARY) or the residuals (REGRESSION), see
        :func:`~mlpipeline.engine.metrics.score_histogram`.

    Raises
    ------
    JobFailedError
        If no record has a valid target, or a classifier's evaluation data
        holds a single class.
    """
    meta = model["meta"]
    model_type, target = meta["model_type"], meta["target"]
    types = {**predictor.space.attributes, target: _target_type(model_type)}
    location = data_source["api"]["DataLocationS3"]
    threshold = model["api"].get("ScoreThreshold", DEFAULT_THRESHOLD)
    if temp_dir is not None:
        os.makedirs(temp_dir, exist_ok=True)
    scorecard = _Scorecard(predictor, threshold, temp_dir)
    report = ReadReport()
    skipped = 0
    try:
        for block in _read_blocks(
            store, location, schema, rearrangement, types, report
        ):
            usable = block[target].status == OK
            skipped += int(block.n_rows - usable.sum())
            block = block.select(usable)
            if block.n_rows:
                scorecard.add(block[target].values, predictor.scores(block))
        if not scorecard.records:
            raise JobFailedError(
                f"No evaluation record of {location!r} has a valid target {target!r}."
            )
        result = scorecard.result(model)
    finally:
        scorecard.close()
    result.update(
        records=scorecard.records,
        invalid_records=report.invalid + skipped,
        target_distribution=result.pop("target_distribution"),
    )
    return {result["metric"]: str(result["value"])}, result


class _Scorecard:
    """Summarise an evaluation's targets and model outputs, block by block.

    Classifiers count records per (true, predicted) label, which gives the
    macro F1, its majority baseline, the confusion matrix and the class
    counts; a BINARY model also keeps its scores for the AUC
    (:class:`RankedScores`) and counts them per bin; a REGRESSION model
    keeps its residuals (:class:`Residuals`), the sums of squared errors of
    the baseline and the target's moments.
    """

    def __init__(
        self, predictor: Predictor, threshold: float, temp_dir: str | None
    ) -> None:
        self.predictor = predictor
        self.model_type = predictor.model_type
        self.threshold = threshold
        self.records = 0
        self.pairs: Counter[tuple[str, str]] = Counter()
        binary = self.model_type == "BINARY"
        self.ranked = RankedScores(temp_dir) if binary else None
        self.scores = ScoreHistogram() if binary else None
        regression = self.model_type == "REGRESSION"
        self.residuals = Residuals(temp_dir) if regression else None
        self.baseline_squares: list[float] = []
        self.truth = Moments()
        self.first_label: str | None = None

    def add(self, truth: Any, scores: np.ndarray) -> None:
        """Add a block's targets (as parsed) and the model's outputs."""
        self.records += len(scores)
        if self.residuals is not None:
            truth = np.asarray(truth, dtype=float)
            mean = self.predictor.target_mean
            self.residuals.add(truth, scores)
            self.baseline_squares.append(float(((truth - mean) ** 2).sum()))
            self.truth.add(truth)
            return
        predicted = self.predictor.labels(scores, self.threshold)
        if self.ranked is not None and self.scores is not None:
            classes = np.asarray(truth).astype(int)
            self.ranked.add(classes == 1, scores)
            self.scores.add(classes, scores)
            truth = [str(c) for c in classes.tolist()]
        if self.first_label is None:
            self.first_label = truth[0]
        self.pairs.update(zip(truth, predicted, strict=True))

    def result(self, model: dict[str, Any]) -> dict[str, Any]:
        """Return the report's metric, value, baseline, distributions.

        Raises
        ------
        JobFailedError
            If a classifier's evaluation data holds a single class.
        """
        name = METRIC_NAMES[self.model_type]
        if self.residuals is not None:
            mean, std = self.truth.result()
            return {
                "metric": name,
                "histogram": self.residuals.histogram(),
                "value": self.residuals.rmse(),
                # math.fsum adds the blocks' sums without further rounding.
                "baseline": math.sqrt(math.fsum(self.baseline_squares) / self.records),
                "target_distribution": {"mean": mean, "std": std},
            }
        truths: Counter[str] = Counter()
        for (true, _), count in self.pairs.items():
            truths[true] += count
        if len(truths) < 2:
            raise JobFailedError(
                f"The evaluation target holds the single class "
                f"{self.first_label!r}; {name} needs at least two classes."
            )
        result: dict[str, Any] = {"metric": name}
        if self.ranked is not None and self.scores is not None:
            value, baseline = self.ranked.auc(), 0.5
            labels = ["0", "1"]
            result["score_threshold"] = self.threshold
            result["histogram"] = self.scores.result(self.threshold)
        else:
            value = macro_f1_of_counts(self.pairs)
            counts = model["training"]["class_counts"]
            majority = max(sorted(counts), key=lambda c: counts[c])
            baseline = macro_f1_of_counts(
                Counter({(true, majority): n for true, n in truths.items()})
            )
            labels = sorted(set(model["meta"]["classes"]) | set(truths))
        result["confusion_matrix"] = {
            "labels": labels,
            "matrix": confusion_matrix_of_counts(self.pairs, labels),
        }
        class_counts = {c: truths[c] for c in sorted(truths)}
        result.update(
            value=value,
            baseline=baseline,
            target_distribution={"class_counts": class_counts},
        )
        return result

    def close(self) -> None:
        """Remove what the scores or residuals left on disk."""
        if self.ranked is not None:
            self.ranked.close()
        if self.residuals is not None:
            self.residuals.close()


def _target_type(model_type: str) -> str:
    return {"BINARY": "BINARY", "MULTICLASS": "CATEGORICAL", "REGRESSION": "NUMERIC"}[
        model_type
    ]
