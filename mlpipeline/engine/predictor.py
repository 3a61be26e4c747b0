"""Score records with a trained model (spec §14, §19.20-22).

A :class:`Predictor` is immutable apart from its score threshold and can be
shared between threads. Records map attribute names to strings: omitted
attributes are missing, unknown ones are ignored and values that do not
parse for their type are treated as missing.

Responses follow Amazon ML's Predict output (lower camel case):

* BINARY: ``predictedLabel`` is ``"1"`` iff the score (probability of 1)
  is at least the threshold; ``predictedScores`` has one entry, keyed by
  the label, holding that score.
* MULTICLASS: ``predictedScores`` holds the softmax probability of every
  training class; ``predictedLabel`` is the most probable class, ties going
  to the first class in sorted order.
* REGRESSION: ``predictedValue`` only.

:meth:`Predictor.predict` scores its one record without scipy: the record's
columns are looked up in the feature space's dicts and the matching weight
rows are summed in column order, as scipy's sparse product sums them, so
the answer is the one :meth:`Predictor.predict_many` gives, to the bit.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.values import (
    MISSING,
    OK,
    Column,
    Table,
    build_table,
    parse_binary,
    parse_numeric,
)

__all__ = ["DEFAULT_THRESHOLD", "Predictor"]

DEFAULT_THRESHOLD = 0.5


class Predictor:
    """A loaded model that turns records into predictions.

    Parameters
    ----------
    model_type : {"BINARY", "MULTICLASS", "REGRESSION"}
        Kind of model.
    space : FeatureSpace
        The fitted feature space.
    coef : ndarray of shape (n_features, n_outputs)
        Weights.
    intercept : ndarray of shape (n_outputs,)
        Intercepts.
    classes : list of str
        Class labels in output order (sorted); empty for REGRESSION.
    target_mean, target_std : float
        Undo the standardisation of a REGRESSION target.
    score_threshold : float, default 0.5
        Cut-off for BINARY labels.
    """

    def __init__(
        self,
        model_type: str,
        space: FeatureSpace,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: Sequence[str] = (),
        target_mean: float = 0.0,
        target_std: float = 1.0,
        score_threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.model_type = model_type
        self.space = space
        self.coef = coef
        self.intercept = intercept
        self.classes = list(classes)
        self.target_mean = target_mean
        self.target_std = target_std
        self.score_threshold = score_threshold
        self._attributes: list[tuple[str, str]] | None = None

    @classmethod
    def from_files(
        cls, meta: dict[str, Any], space: dict[str, Any], weights: bytes
    ) -> Predictor:
        """Build a predictor from the saved model files' contents.

        ``weights`` must be a NumPy ``.npz`` archive of two numeric arrays,
        ``coef`` and ``intercept``. It is read with ``allow_pickle=False``:
        a model file is data, and unpickling one could run any code its
        writer chose.

        Raises
        ------
        ValueError
            If ``weights`` holds pickled objects or is no such archive.
        """
        try:
            with np.load(io.BytesIO(weights), allow_pickle=False) as arrays:
                coef, intercept = arrays["coef"], arrays["intercept"]
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as err:
            raise ValueError(
                "the weights file is not a NumPy .npz archive of the numeric "
                f"arrays coef and intercept ({err}); the engine never loads "
                "pickled data, so train the model again"
            ) from err
        if coef.dtype.kind != "f" or intercept.dtype.kind != "f":
            raise ValueError(
                f"the weights file holds arrays of dtype {coef.dtype} and "
                f"{intercept.dtype}, not floats; train the model again"
            )
        return cls(
            model_type=meta["model_type"],
            space=FeatureSpace.from_dict(space),
            coef=coef,
            intercept=intercept,
            classes=meta["classes"],
            target_mean=meta["target_mean"],
            target_std=meta["target_std"],
        )

    def scores(self, table: Table) -> np.ndarray:
        """Return raw model outputs for parsed records.

        Returns
        -------
        ndarray
            Shape (n,) of P(class 1) for BINARY, (n, n_classes) of class
            probabilities for MULTICLASS, (n,) of values for REGRESSION.
        """
        return self._outputs(self.space.transform(table) @ self.coef + self.intercept)

    def _outputs(self, z: np.ndarray) -> np.ndarray:
        """Turn linear scores of shape (n, n_outputs) into model outputs."""
        if self.model_type == "BINARY":
            return expit(z[:, 0])
        if self.model_type == "REGRESSION":
            return z[:, 0] * self.target_std + self.target_mean
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def labels(
        self, scores: np.ndarray, score_threshold: float | None = None
    ) -> list[str]:
        """Return the predicted label of each row of :meth:`scores` output."""
        if self.model_type == "BINARY":
            cut = self.score_threshold if score_threshold is None else score_threshold
            return ["1" if s >= cut else "0" for s in scores.tolist()]
        # argmax returns the first maximum: the first class in sorted order.
        return [self.classes[i] for i in scores.argmax(axis=1).tolist()]

    def predict(
        self, record: Mapping[str, str], score_threshold: float | None = None
    ) -> dict[str, Any]:
        """Return the ``Prediction`` of one record, as Amazon ML shapes it.

        Parameters
        ----------
        record : mapping of str to str
            Attribute values.
        score_threshold : float, optional
            Overrides the predictor's BINARY cut-off for this call.

        Raises
        ------
        InvalidInputException
            If a key or value is not a string, or the values put the
            prediction beyond the float range (JSON has no infinity).
        """
        _check(record)
        found = self.space.record_features(record)
        if found is None:
            found = self.space.row_features(self._single(record))
        columns, values = found
        with np.errstate(over="ignore", invalid="ignore"):
            z = self._linear(columns, values)
            scores = self._outputs((z + self.intercept)[None, :])
        if not np.isfinite(scores).all():
            raise InvalidInputException(
                "The record's values put the prediction beyond the float range; "
                "send numbers of the size the model was trained on."
            )
        return self._predictions(scores, score_threshold)[0]

    def _linear(self, columns: list[int], values: list[float]) -> np.ndarray:
        """Return the weighted sum of one record's features per output.

        The weight rows are added one by one in column order, starting
        from zero, as scipy's CSR product adds them, so the sums agree with
        :meth:`predict_many`'s to the bit.
        """
        if self.coef.shape[1] == 1:
            weights = self.coef[:, 0]
            total = 0.0
            for column, value in zip(columns, values, strict=True):
                total += value * float(weights[column])
            return np.array([total])
        if not columns:
            return np.zeros(self.coef.shape[1])
        terms = np.asarray(values)[:, None] * self.coef[columns]
        # Along the first axis numpy adds whole rows in order: no pairwise
        # regrouping, which it applies only along the innermost axis.
        return np.add.reduce(terms, axis=0, initial=0.0)

    def predict_many(
        self, records: Sequence[Mapping[str, str]], score_threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """Return the ``Prediction`` of each record; see :meth:`predict`."""
        scores = self.scores(self._table(records))
        return self._predictions(scores, score_threshold)

    def _predictions(
        self, scores: np.ndarray, score_threshold: float | None
    ) -> list[dict[str, Any]]:
        details = {"PredictiveModelType": self.model_type, "Algorithm": "SGD"}
        if self.model_type == "REGRESSION":
            return [
                {"predictedValue": value, "details": dict(details)}
                for value in scores.tolist()
            ]
        labels = self.labels(scores, score_threshold)
        if self.model_type == "BINARY":
            return [
                {
                    "predictedLabel": label,
                    "predictedScores": {label: score},
                    "details": dict(details),
                }
                for label, score in zip(labels, scores.tolist(), strict=True)
            ]
        return [
            {
                "predictedLabel": label,
                "predictedScores": dict(zip(self.classes, row, strict=True)),
                "details": dict(details),
            }
            for label, row in zip(labels, scores.tolist(), strict=True)
        ]

    def _table(self, records: Sequence[Mapping[str, str]]) -> Table:
        types = self.space.attributes
        for record in records:
            _check(record)
        names = list(types)
        rows = [[record.get(name) for name in names] for record in records]
        return build_table(rows, {n: i for i, n in enumerate(names)}, types)

    def _single(self, record: Mapping[str, str]) -> Table:
        """Parse one record as :func:`build_table` would, more directly."""
        _check(record)
        if self._attributes is None:
            self._attributes = list(self.space.attributes.items())
        columns = {}
        for name, attr_type in self._attributes:
            cell = record.get(name)
            if attr_type == "NUMERIC" or attr_type == "BINARY":
                parse = parse_numeric if attr_type == "NUMERIC" else parse_binary
                value, status = (np.nan, MISSING) if cell is None else parse(cell)
                values: Any = np.array([value])
            else:
                blank = not cell or (attr_type == "TEXT" and cell.isspace())
                status = MISSING if blank else OK
                values = [None if blank else cell]
            columns[name] = Column(attr_type, values, _STATUS[status])
        return Table(columns, 1)


def _status(value: int) -> np.ndarray:
    status = np.array([value], dtype=np.int8)
    status.setflags(write=False)
    return status


# Shared by every single-record table, hence read-only.
_STATUS = [_status(value) for value in range(3)]


def _check(record: Any) -> None:
    """Raise InvalidInputException unless ``record`` maps str to str."""
    if not isinstance(record, Mapping):
        raise InvalidInputException(
            f"Record must be a map of strings, got {type(record).__name__}."
        )
    for key, value in record.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputException(
                f"Record entry {key!r}: {value!r} is not a string pair; "
                "every attribute name and value must be a string."
            )
