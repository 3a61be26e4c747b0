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
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.values import Table, build_table

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

    @classmethod
    def from_files(
        cls, meta: dict[str, Any], space: dict[str, Any], weights: bytes
    ) -> Predictor:
        """Build a predictor from the saved model files' contents."""
        with np.load(io.BytesIO(weights), allow_pickle=False) as arrays:
            coef, intercept = arrays["coef"], arrays["intercept"]
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
        z = self.space.transform(table) @ self.coef + self.intercept
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
            If a key or value is not a string.
        """
        return self.predict_many([record], score_threshold)[0]

    def predict_many(
        self, records: Sequence[Mapping[str, str]], score_threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """Return the ``Prediction`` of each record; see :meth:`predict`."""
        table = self._table(records)
        scores = self.scores(table)
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
        names = list(types)
        rows = [[record.get(name) for name in names] for record in records]
        return build_table(rows, {n: i for i, n in enumerate(names)}, types)
