"""Describe* listings, botocore's waiters and paginators (spec §4.5, §6).

``DescribeDataSources``, ``DescribeMLModels``, ``DescribeEvaluations`` and
``DescribeBatchPredictions`` filter the entities of one type on one
``FilterVariable`` with the comparators ``EQ``, ``GT``, ``LT``, ``GE``,
``LE``, ``NE`` and ``Prefix``, sort the results by that variable
(``SortOrder`` ``asc``, A-Z and 0-9, or ``dsc``) and page them (``Limit``
1-100, default 100; ``NextToken`` present only when more results follow).
Each result carries ``Status``, so botocore's four waiters (``get_waiter``)
work on the engine as on a boto3 client.

[ENGINE] choices where AWS is silent:

* Several comparators apply together (all must hold). A comparator without
  ``FilterVariable`` is refused; a ``FilterVariable`` alone only sorts.
* Strings compare by code point; an absent ``Name`` is the empty string,
  and so is ``IAMUser`` (the engine has no IAM users). ``CreatedAt`` and
  ``LastUpdatedAt`` compare as instants: their comparator values are epoch
  seconds or ISO 8601 date-times (UTC unless an offset is given), and
  ``Prefix`` matches the start of the instant's ISO 8601 form in UTC
  (``2024-05`` finds May 2024).
* ``Algorithm`` is ``sgd`` for every model; ``TrainingDataURI`` and
  ``DataURI`` are the entity's ``InputDataLocationS3``.
* Without ``FilterVariable`` results are sorted by ``CreatedAt``. Results
  with equal sort values are ordered by id (reversed with ``dsc``).
* DELETED entities are listed only when filtering ``Status`` ``EQ``
  ``DELETED``.
* ``NextToken`` holds the position after the last result returned, so
  entities created meanwhile neither shift nor repeat the later pages; it
  is refused with a different query.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

from mlpipeline.engine.entities import EntityOperations
from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.repository import api_view

__all__ = ["COMPARATORS", "FILTER_VARIABLES", "DescribeOperations"]

MAX_LIMIT = 100
MAX_COMPARATOR_CHARS = 1024
COMPARATORS = ("EQ", "GT", "LT", "GE", "LE", "NE", "Prefix")
_TIMESTAMPS = frozenset({"CreatedAt", "LastUpdatedAt"})
_Getter = Callable[[dict[str, Any]], Any]


def _member(name: str) -> _Getter:
    return lambda api: api.get(name) or ""


_COMMON: dict[str, _Getter] = {
    "CreatedAt": lambda api: api["CreatedAt"],
    "LastUpdatedAt": lambda api: api["LastUpdatedAt"],
    "Status": _member("Status"),
    "Name": _member("Name"),
    "IAMUser": _member("CreatedByIamUser"),
}
_RESULTS_OF: dict[str, _Getter] = {
    "MLModelId": _member("MLModelId"),
    "DataURI": _member("InputDataLocationS3"),
}
#: Entity kind -> FilterVariable -> how to read it from the ``api`` section.
FILTER_VARIABLES: dict[str, dict[str, _Getter]] = {
    "datasource": {**_COMMON, "DataLocationS3": _member("DataLocationS3")},
    "mlmodel": {
        **_COMMON,
        "TrainingDataSourceId": _member("TrainingDataSourceId"),
        "RealtimeEndpointStatus": lambda api: api["EndpointInfo"]["EndpointStatus"],
        "MLModelType": _member("MLModelType"),
        "Algorithm": lambda api: "sgd",
        "TrainingDataURI": _member("InputDataLocationS3"),
    },
    "evaluation": {
        **_COMMON,
        **_RESULTS_OF,
        "DataSourceId": _member("EvaluationDataSourceId"),
    },
    "batchprediction": {
        **_COMMON,
        **_RESULTS_OF,
        "DataSourceId": _member("BatchPredictionDataSourceId"),
    },
}
_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda value, given: value == given,
    "GT": lambda value, given: value > given,
    "LT": lambda value, given: value < given,
    "GE": lambda value, given: value >= given,
    "LE": lambda value, given: value <= given,
    "NE": lambda value, given: value != given,
}


def _instant(text: str, comparator: str) -> float:
    """Return a timestamp comparator value as epoch seconds."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputException(
            f"{comparator} {text!r} is not a date-time; give epoch seconds or an "
            "ISO 8601 date-time such as '2024-05-01T12:00:00+00:00'."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _comparisons(variable: str | None, given: dict[str, Any]) -> list[tuple[str, Any]]:
    """Return the request's comparators as ``(name, value)``, values parsed."""
    found = []
    for name in COMPARATORS:
        text = given.get(name)
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > MAX_COMPARATOR_CHARS:
            raise InvalidInputException(
                f"{name} must be a string of at most {MAX_COMPARATOR_CHARS} "
                f"characters, got {text!r}."
            )
        if text and text.isspace():
            raise InvalidInputException(
                f"{name} {text!r} must be empty or hold a non-space character."
            )
        if variable is None:
            raise InvalidInputException(f"{name} needs a FilterVariable to compare.")
        if variable in _TIMESTAMPS and name != "Prefix":
            found.append((name, _instant(text, name)))
        else:
            found.append((name, text))
    return found


def _matches(value: Any, comparisons: list[tuple[str, Any]]) -> bool:
    for name, given in comparisons:
        if name == "Prefix":
            text = value if isinstance(value, str) else _iso(value)
            if not text.startswith(given):
                return False
        elif not _TESTS[name](value, given):
            return False
    return True


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat()


def _limit(value: Any) -> int:
    if value is None:
        return MAX_LIMIT
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputException(f"Limit must be an integer, got {value!r}.")
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInputException(
            f"Limit {value} is out of range; it must be between 1 and {MAX_LIMIT}."
        )
    return value


def _fingerprint(query: dict[str, Any]) -> str:
    text = json.dumps(query, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _token(position: list[Any], fingerprint: str) -> str:
    raw = json.dumps([position, fingerprint]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _position(token: Any, fingerprint: str) -> list[Any]:
    """Return the sort position a NextToken holds."""
    try:
        position, found = json.loads(base64.urlsafe_b64decode(token.encode()))
        valid = found == fingerprint and len(position) == 2
    except (AttributeError, ValueError, TypeError):
        valid = False
    if not valid:
        raise InvalidInputException(
            f"NextToken {token!r} was not returned by this listing; pass the "
            "token of the previous page with the same filters and sort order."
        )
    return position


def describe(
    kind: str, documents: list[tuple[str, dict[str, Any]]], request: dict[str, Any]
) -> dict[str, Any]:
    """Filter, sort and page entity documents as Describe* does.

    Parameters
    ----------
    kind : str
        Entity kind (``"datasource"``, ``"mlmodel"``...).
    documents : list of (id, document)
        Every entity of that kind.
    request : dict
        The Describe* keyword arguments.

    Returns
    -------
    dict
        ``{"Results": [...]}`` plus ``"NextToken"`` when more follow.

    Raises
    ------
    InvalidInputException
        On an unknown FilterVariable or SortOrder, a bad comparator value,
        Limit or NextToken.
    """
    variables = FILTER_VARIABLES[kind]
    variable = request.get("FilterVariable")
    if variable is not None and variable not in variables:
        accepted = ", ".join(variables)
        raise InvalidInputException(
            f"FilterVariable {variable!r} must be one of {accepted}."
        )
    order = request.get("SortOrder") or "asc"
    if order not in ("asc", "dsc"):
        raise InvalidInputException(f"SortOrder {order!r} must be 'asc' or 'dsc'.")
    comparisons = _comparisons(variable, request)
    limit = _limit(request.get("Limit"))
    fingerprint = _fingerprint(
        {"FilterVariable": variable, "SortOrder": order, "where": comparisons}
    )

    read = variables[variable or "CreatedAt"]
    deleted_wanted = variable == "Status" and request.get("EQ") == "DELETED"
    rows = []
    for entity_id, document in documents:
        api = document["api"]
        if api["Status"] == "DELETED" and not deleted_wanted:
            continue
        value = read(api)
        if _matches(value, comparisons):
            rows.append(([value, entity_id], api))
    descending = order == "dsc"
    rows.sort(key=lambda row: row[0], reverse=descending)

    if request.get("NextToken") is not None:
        after = _position(request["NextToken"], fingerprint)
        rows = [
            row for row in rows if (row[0] < after if descending else row[0] > after)
        ]
    page = rows[:limit]
    out: dict[str, Any] = {"Results": [_result(kind, api) for _, api in page]}
    if len(rows) > limit:
        out["NextToken"] = _token(page[-1][0], fingerprint)
    return out


def _result(kind: str, api: dict[str, Any]) -> dict[str, Any]:
    """Return one Describe result: the Get output's members, plus Algorithm."""
    result = api_view(api)
    if kind == "mlmodel":
        result["Algorithm"] = "sgd"
    return result


class DescribeOperations(EntityOperations):
    """The four Describe* operations, and boto3's waiters and paginators."""

    def _describe(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        documents = []
        for entity_id in self._repo.ids(kind):
            document = self._repo.load(kind, entity_id)
            # A document removed between listing and reading is skipped.
            if document is not None:
                documents.append((entity_id, document))
        return describe(kind, documents, request)

    def describe_data_sources(self, **request: Any) -> dict[str, Any]:
        """List data sources as DescribeDataSources does (see module doc)."""
        return self._describe("datasource", request)

    def describe_ml_models(self, **request: Any) -> dict[str, Any]:
        """List models as DescribeMLModels does (see module doc)."""
        return self._describe("mlmodel", request)

    def describe_evaluations(self, **request: Any) -> dict[str, Any]:
        """List evaluations as DescribeEvaluations does (see module doc)."""
        return self._describe("evaluation", request)

    def describe_batch_predictions(self, **request: Any) -> dict[str, Any]:
        """List batch predictions as DescribeBatchPredictions does."""
        return self._describe("batchprediction", request)

    def get_waiter(self, waiter_name: str) -> Any:
        """Return botocore's waiter ``waiter_name`` working on this engine.

        The waiters are those of botocore's own ``machinelearning`` model
        (``data_source_available``, ``ml_model_available``,
        ``evaluation_available``, ``batch_prediction_available``), so they
        behave exactly as on a boto3 client; pass ``WaiterConfig`` to
        ``wait`` to change its 30-second delay.
        """
        from botocore import xform_name
        from botocore.waiter import NormalizedOperationMethod, Waiter, WaiterModel

        model = WaiterModel(_botocore_data("waiters-2"))
        names = {xform_name(name): name for name in model.waiter_names}
        if waiter_name not in names:
            accepted = ", ".join(sorted(names))
            raise ValueError(f"No waiter {waiter_name!r}; use one of {accepted}.")
        config = model.get_waiter(names[waiter_name])
        method = getattr(self, xform_name(config.operation))
        return Waiter(names[waiter_name], config, NormalizedOperationMethod(method))

    def get_paginator(self, operation_name: str) -> Any:
        """Return botocore's paginator of a Describe* operation on this engine.

        ``operation_name`` is the method name, as for a boto3 client
        (``"describe_ml_models"``).
        """
        from botocore import xform_name
        from botocore.model import ServiceModel
        from botocore.paginate import Paginator

        configs = _botocore_data("paginators-1")["pagination"]
        names = {xform_name(name): name for name in configs}
        if operation_name not in names:
            accepted = ", ".join(sorted(names))
            raise ValueError(
                f"No paginator for {operation_name!r}; use one of {accepted}."
            )
        operation = names[operation_name]
        model = ServiceModel(_botocore_data("service-2")).operation_model(operation)
        return Paginator(getattr(self, operation_name), configs[operation], model)


def _botocore_data(type_name: str) -> dict[str, Any]:
    """Return one of the files of botocore's ``machinelearning`` model."""
    from botocore.loaders import create_loader

    return create_loader().load_service_model("machinelearning", type_name)
