"""Evaluation alerts, as Amazon ML's console raised them (spec §13.2).

An evaluation's ``Report`` lists under ``alerts`` the checks it failed, each
as ``{"code", "message"}``; an evaluation without alerts has an empty list.
The checks, in this order:

``HeldOutData``
    Some evaluation records were training records: both data sources read
    the same file and their selections overlap (the same data source, or
    rearrangements that are not complements of each other).
``SufficientData``
    The evaluation used fewer records than 10 % of those training used.
``SchemaMatched``
    The two schemas do not declare the same attributes with the same types
    (the training types were used).
``AllRecordsUsed``
    Some selected evaluation records were invalid or had no valid target.
``TargetDistribution``
    The evaluation target is distributed unlike the training target.

[ENGINE] thresholds where the console's are unpublished: the 10 % of
``SufficientData`` is the Developer Guide's; ``TargetDistribution`` fires
for classifiers when the total variation distance between the training and
evaluation class shares exceeds 0.10 (or the evaluation holds a class
training never saw), and for REGRESSION when the evaluation target's mean
is more than half a training standard deviation from the training mean.
"""

from __future__ import annotations

from typing import Any

from mlpipeline.engine.csvio import count_selected
from mlpipeline.engine.jobs import open_data
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.split import parse_rearrangement
from mlpipeline.engine.store import Store

__all__ = [
    "MAX_CLASS_SHIFT",
    "MAX_MEAN_SHIFT",
    "MIN_EVALUATION_SHARE",
    "evaluation_alerts",
]

MIN_EVALUATION_SHARE = 0.10
MAX_CLASS_SHIFT = 0.10
MAX_MEAN_SHIFT = 0.5


def _alert(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _shared_records(
    store: Store, training: dict[str, Any], evaluation: dict[str, Any]
) -> int:
    """Return how many records both data sources select from one file."""
    location = training["api"]["DataLocationS3"]
    if evaluation["api"]["DataLocationS3"] != location:
        return 0
    return count_selected(
        open_data(store, location),
        parse_schema(training["schema"]).has_header,
        parse_rearrangement(training["api"].get("DataRearrangement")),
        parse_rearrangement(evaluation["api"].get("DataRearrangement")),
    )


def _schema_differences(training: str, evaluation: str) -> list[str]:
    """Return how the evaluation schema's attributes differ, in words."""
    trained = parse_schema(training).types
    given = parse_schema(evaluation).types
    found = []
    missing = [name for name in trained if name not in given]
    extra = [name for name in given if name not in trained]
    retyped = [
        f"{name!r} is {given[name]}, {trained[name]} in training"
        for name in given
        if name in trained and given[name] != trained[name]
    ]
    if missing:
        found.append(f"lacks {', '.join(map(repr, missing))}")
    if extra:
        found.append(f"adds {', '.join(map(repr, extra))}")
    return found + retyped


def _distribution_shift(
    model_type: str, training: dict[str, Any], evaluation: dict[str, Any]
) -> str | None:
    """Return why the evaluation target is distributed differently, if so."""
    if model_type == "REGRESSION":
        mean, std = training["target_mean"], training["target_std"]
        shift = abs(evaluation["mean"] - mean) / std
        if shift > MAX_MEAN_SHIFT:
            return (
                f"the evaluation target's mean {evaluation['mean']:.6g} is "
                f"{shift:.2f} training standard deviations from the training mean "
                f"{mean:.6g} (more than {MAX_MEAN_SHIFT})"
            )
        return None
    trained, given = training["class_counts"], evaluation["class_counts"]
    unseen = sorted(set(given) - set(trained))
    if unseen:
        return f"the evaluation holds classes training never saw: {unseen!r}"
    n_trained, n_given = sum(trained.values()), sum(given.values())
    distance = 0.5 * sum(
        abs(trained.get(c, 0) / n_trained - given.get(c, 0) / n_given)
        for c in set(trained) | set(given)
    )
    if distance > MAX_CLASS_SHIFT:
        return (
            f"the class shares differ by a total variation distance of "
            f"{distance:.3f} (more than {MAX_CLASS_SHIFT})"
        )
    return None


def evaluation_alerts(
    store: Store,
    model: dict[str, Any],
    training_source: dict[str, Any] | None,
    evaluation_source: dict[str, Any],
    report: dict[str, Any],
) -> list[dict[str, str]]:
    """Return the alerts of an evaluation (see the module docstring).

    Parameters
    ----------
    store : Store
        Holds the data files.
    model : dict
        The model document (its ``training`` summary and ``schema``).
    training_source : dict or None
        The training data source document, if it still exists.
    evaluation_source : dict
        The evaluation data source document.
    report : dict
        The evaluation's report: ``records``, ``invalid_records`` and
        ``target_distribution``.
    """
    alerts = []
    training = model["training"]
    if training_source is not None:
        shared = _shared_records(store, training_source, evaluation_source)
        if shared:
            alerts.append(
                _alert(
                    "HeldOutData",
                    f"{shared} evaluation records were also training records; "
                    "evaluate on records the model has not seen, such as the "
                    "complement of the training split.",
                )
            )
    used, trained = report["records"], training["records_used"]
    if used < MIN_EVALUATION_SHARE * trained:
        alerts.append(
            _alert(
                "SufficientData",
                f"The evaluation used {used} records, fewer than "
                f"{MIN_EVALUATION_SHARE:.0%} of the {trained} training records.",
            )
        )
    differences = _schema_differences(model["schema"], evaluation_source["schema"])
    if differences:
        alerts.append(
            _alert(
                "SchemaMatched",
                "The evaluation schema differs from the training schema: it "
                f"{'; '.join(differences)}.",
            )
        )
    invalid = report["invalid_records"]
    if invalid:
        alerts.append(
            _alert(
                "AllRecordsUsed",
                f"{invalid} of the {invalid + used} selected evaluation records "
                "were invalid or had no valid target and were not used.",
            )
        )
    shift = _distribution_shift(
        model["meta"]["model_type"], training, report["target_distribution"]
    )
    if shift:
        alerts.append(
            _alert("TargetDistribution", f"The target distribution changed: {shift}.")
        )
    return alerts
