"""Request checks shared by every operation: parameters, numbers, messages."""

from __future__ import annotations

import json

import pytest

from mlpipeline.engine.errors import InvalidInputException, JobFailedError
from mlpipeline.engine.params import parse_parameters
from mlpipeline.engine.split import parse_rearrangement
from mlpipeline.engine.values import parse_numeric


def _refusal(call, **request) -> str:
    with pytest.raises(InvalidInputException) as refused:
        call(**request)
    return str(refused.value)


def test_an_unknown_parameter_is_refused_by_create_and_describe_alike(engine):
    assert _refusal(lambda: engine.create_ml_model(Bogus=1)) == (
        "CreateMLModel has no parameter 'Bogus'; it accepts MLModelId, "
        "MLModelName, MLModelType, Parameters, Recipe, RecipeUri, "
        "TrainingDataSourceId."
    )
    assert _refusal(lambda: engine.describe_ml_models(Foo=1)) == (
        "DescribeMLModels has no parameter 'Foo'; it accepts EQ, FilterVariable, "
        "GE, GT, LE, LT, Limit, NE, NextToken, Prefix, SortOrder."
    )
    assert engine.describe_ml_models(Limit=5) == {"Results": []}


def test_a_missing_or_positional_parameter_is_refused(engine):
    assert _refusal(lambda: engine.get_ml_model()) == (
        "GetMLModel needs the parameter 'MLModelId'."
    )
    assert _refusal(lambda: engine.delete_tags("ml-1")) == (
        "DeleteTags takes its parameters by name, e.g. "
        "DeleteTags(ResourceId=..., ResourceType=...)."
    )


def test_every_operation_checks_its_parameters(engine):
    operations = [
        "create_data_source_from_s3", "get_data_source", "update_data_source",
        "delete_data_source", "create_ml_model", "get_ml_model", "update_ml_model",
        "delete_ml_model", "create_evaluation", "get_evaluation",
        "update_evaluation", "delete_evaluation", "create_realtime_endpoint",
        "delete_realtime_endpoint", "predict", "create_batch_prediction",
        "get_batch_prediction", "update_batch_prediction",
        "delete_batch_prediction", "add_tags", "delete_tags", "describe_tags",
        "describe_data_sources", "describe_ml_models", "describe_evaluations",
        "describe_batch_predictions",
    ]  # fmt: skip
    refused = [
        name
        for name in operations
        if "has no parameter 'Nope'" in _refusal(getattr(engine, name), Nope=1)
    ]
    assert refused == operations


def test_a_5000_digit_integer_in_a_rearrangement_is_refused():
    text = json.dumps({"splitting": {"percentBegin": 0}}).replace("0", "9" * 5000)

    assert _refusal(lambda: parse_rearrangement(text)) == (
        "DataRearrangement: the integer 99999999999999999999... has 5000 digits; "
        "at most 300 are allowed."
    )


def test_strategy_params_and_splitting_must_be_objects():
    assert _refusal(
        lambda: parse_rearrangement('{"splitting": {"strategyParams": []}}')
    ) == ("DataRearrangement: 'strategyParams' must be an object, got [].")
    assert _refusal(lambda: parse_rearrangement('{"splitting": []}')) == (
        "DataRearrangement: 'splitting' must be an object, got []."
    )


@pytest.mark.parametrize("value", ["\u0665", "5_0", " 5", "+5", "5.0"])
def test_max_passes_takes_ascii_digits_only(value):
    assert _refusal(lambda: parse_parameters({"sgd.maxPasses": value})) == (
        f"Training parameter 'sgd.maxPasses' has value {value!r}; expected an "
        "integer between 1 and 10000 in ASCII digits."
    )


def test_regularization_amounts_follow_the_numeric_notation():
    assert _refusal(
        lambda: parse_parameters({"sgd.l2RegularizationAmount": "1_0"})
    ) == (
        "Training parameter 'sgd.l2RegularizationAmount' has value '1_0'; "
        "expected a finite number >= 0 in decimal or scientific notation."
    )
    assert parse_parameters({"sgd.l2RegularizationAmount": "1e-4"}).l2 == 1e-4


def test_numeric_values_take_ascii_digits_only():
    assert parse_numeric("\u0665")[1] == parse_numeric("1_000")[1] == 2
    assert parse_numeric("5") == (5.0, 0)


def test_a_long_value_is_quoted_by_its_first_100_characters(engine):
    token = "A" * 100_000

    message = _refusal(lambda: engine.describe_ml_models(NextToken=token))

    assert message.startswith(f"NextToken '{'A' * 100}...' was not returned")
    assert len(message) < 300


def test_messages_are_capped_at_2048_characters_and_job_messages_at_10240():
    assert len(str(InvalidInputException("x" * 5000))) == 2048
    assert str(InvalidInputException("x" * 5000)).endswith("xxx...")
    assert len(str(JobFailedError("x" * 20000))) == 10240


def test_an_apostrophe_inside_a_word_is_not_a_quote():
    text = "the model's " + "q" * 120 + " 'abc' here"

    assert str(InvalidInputException(text)) == text
