"""Values near the float limit: statistics, training and saved documents."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlpipeline.engine.errors import InvalidInputException, JobFailedError
from mlpipeline.engine.features import FeatureSpace
from mlpipeline.engine.metrics import rmse
from mlpipeline.engine.recipe import parse_expression
from mlpipeline.engine.repository import without_non_finite
from mlpipeline.engine.sketch import Moments, mean_std

ATTRS = [("x", "NUMERIC"), ("c", "CATEGORICAL"), ("y", "NUMERIC")]


def _rows() -> list[list[object]]:
    """x is +-1.7e308 on every tenth row, y is 1e300 on every seventh."""
    rows: list[list[object]] = []
    for i in range(100):
        x = (1.7e308 if (i // 10) % 2 else -1.7e308) if i % 10 == 0 else i
        rows.append([x, "a", 1e300 if i % 7 == 0 else i])
    return rows


def test_mean_and_deviation_of_values_whose_squares_overflow():
    assert mean_std(np.array([1e300, -1e300, 1e300, -1e300])) == (0.0, 1e300)


def test_rmse_of_differences_whose_squares_overflow():
    assert rmse(np.array([1e300, -1e300]), np.zeros(2)) == 1e300


def test_statistics_span_the_whole_float_range(data_source):
    found = data_source("ds-huge", _rows(), ATTRS, "y")

    assert found["Status"] == "COMPLETED"
    x = found["Statistics"]["attributes"]["x"]
    assert (x["min"], x["max"], x["median"]) == (-1.7e308, 1.7e308, 50.0)
    assert x["histogram"]["counts"] == [5, 0, 0, 0, 0, 90, 0, 0, 0, 5]
    assert x["histogram"]["edges"][0] == -1.7e308
    assert x["histogram"]["edges"][-1] == 1.7e308
    assert x["correlation"] is None


def test_a_regression_on_a_target_near_1e300_completes(engine, data_source):
    data_source("ds-huge", _rows(), ATTRS, "y")

    engine.create_ml_model(
        MLModelId="ml-huge", MLModelType="REGRESSION", TrainingDataSourceId="ds-huge"
    )
    engine.create_evaluation(
        EvaluationId="ev-huge", MLModelId="ml-huge", EvaluationDataSourceId="ds-huge"
    )

    model = engine.get_ml_model(MLModelId="ml-huge")
    evaluation = engine.get_evaluation(EvaluationId="ev-huge")
    assert (model["Status"], "Message" in model) == ("COMPLETED", False)
    assert evaluation["Status"] == "COMPLETED"
    error = float(evaluation["PerformanceMetrics"]["Properties"]["RegressionRMSE"])
    assert math.isfinite(error) and 1e299 < error < 1e300


def test_streamed_moments_that_overflow_fail_normalize_with_a_message():
    moments = Moments(capacity=1)
    moments.add(np.array([1e300, -1e300]))
    moments.add(np.array([1e300, -1e300]))
    space = FeatureSpace([parse_expression("normalize(x)")], {"x": "NUMERIC"})
    space._summaries = {"normalize(x)": moments}

    with pytest.raises(JobFailedError) as failure:
        space.end_pass()

    assert str(failure.value) == (
        "normalize(x): the mean (0) or standard deviation (inf) is beyond the "
        "float range; bin the values with quantile_bin instead or drop the "
        "outlying rows."
    )


def test_non_finite_numbers_of_a_document_become_null():
    document = {"a": [1.5, math.inf], "b": {"c": -math.inf, "d": math.nan}, "e": "x"}

    assert without_non_finite(document) == {
        "a": [1.5, None],
        "b": {"c": None, "d": None},
        "e": "x",
    }


def test_a_prediction_beyond_the_float_range_is_refused(engine, data_source):
    rows = [[i, "ab"[i % 2], i * 2.0] for i in range(100)]
    data_source("ds-small", rows, ATTRS, "y")
    recipe = {"groups": {}, "assignments": {}, "outputs": ["normalize(x)", "c"]}
    engine.create_ml_model(
        MLModelId="ml-small",
        MLModelType="REGRESSION",
        TrainingDataSourceId="ds-small",
        Recipe=json.dumps(recipe),
    )
    endpoint = engine.create_realtime_endpoint(MLModelId="ml-small")
    url = endpoint["RealtimeEndpointInfo"]["EndpointUrl"]

    def ask(x: str) -> dict:
        record = {"x": x, "c": "a"}
        return engine.predict(MLModelId="ml-small", Record=record, PredictEndpoint=url)

    with pytest.raises(InvalidInputException) as refused:
        ask("1.7e308")

    assert str(refused.value) == (
        "The record's values put the prediction beyond the float range; send "
        "numbers of the size the model was trained on."
    )
    assert math.isfinite(ask("1e300")["Prediction"]["predictedValue"])
