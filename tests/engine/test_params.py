import pytest

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.params import parse_parameters


def test_defaults_mirror_the_console():
    params = parse_parameters(None)
    assert params.echo == {
        "algorithm": "sgd",
        "sgd.l1RegularizationAmount": "0.0",
        "sgd.l2RegularizationAmount": "1e-6",
        "sgd.maxMLModelSizeInBytes": "104857600",
        "sgd.maxPasses": "10",
        "sgd.shuffleType": "auto",
    }
    assert (params.max_passes, params.shuffle, params.l1, params.l2) == (
        10,
        True,
        0.0,
        1e-6,
    )
    assert params.max_model_size == 104857600


def test_given_values_are_echoed_as_strings():
    params = parse_parameters({"sgd.maxPasses": "30", "sgd.shuffleType": "none"})
    assert params.echo["sgd.maxPasses"] == "30" and params.max_passes == 30
    assert params.echo["sgd.shuffleType"] == "none" and not params.shuffle


def test_l1_alone_turns_default_l2_off():
    params = parse_parameters({"sgd.l1RegularizationAmount": "1e-4"})
    assert (params.l1, params.l2) == (1e-4, 0.0)
    assert params.echo["sgd.l2RegularizationAmount"] == "0.0"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"sgd.learningRate": "0.1"}, "Unknown training parameter 'sgd.learningRate'"),
        ({"algorithm": "sgd"}, "Unknown training parameter 'algorithm'"),
        ({"sgd.maxPasses": 10}, "expected a string"),
        ({"sgd.maxPasses": "0"}, "between 1 and 10000"),
        ({"sgd.maxPasses": "10001"}, "between 1 and 10000"),
        ({"sgd.maxPasses": "2.5"}, "between 1 and 10000"),
        ({"sgd.maxMLModelSizeInBytes": "99999"}, "between 100000 and 2147483648"),
        ({"sgd.maxMLModelSizeInBytes": "2147483649"}, "between 100000"),
        ({"sgd.shuffleType": "random"}, "'auto' or 'none'"),
        ({"sgd.l2RegularizationAmount": "-1"}, "finite number >= 0"),
        ({"sgd.l1RegularizationAmount": "nan"}, "finite number >= 0"),
        (
            {
                "sgd.l1RegularizationAmount": "1e-4",
                "sgd.l2RegularizationAmount": "1e-4",
            },
            "both positive",
        ),
    ],
)
def test_invalid_parameters(given, message):
    with pytest.raises(InvalidInputException, match=message):
        parse_parameters(given)


def test_accepted_ranges_edges():
    assert parse_parameters({"sgd.maxPasses": "10000"}).max_passes == 10000
    assert (
        parse_parameters({"sgd.maxMLModelSizeInBytes": "100000"}).max_model_size
        == 100000
    )
    assert parse_parameters({"sgd.l2RegularizationAmount": "0"}).l2 == 0.0
