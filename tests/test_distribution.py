"""Histograms and confusion matrices made from a batch prediction's output
and the evaluation file."""

import gzip
import io

import pytest

from mlpipeline.distribution import DistributionError, histogram_from_batch


def files(output, evaluation):
    """Return the gzip output and the evaluation file as binary streams."""
    return (
        io.BytesIO(gzip.compress("".join(f"{line}\n" for line in output).encode())),
        io.BytesIO("".join(f"{line}\n" for line in evaluation).encode()),
    )


def test_records_without_a_valid_target_or_a_prediction_are_left_out():
    output, evaluation = files(
        ["tag,bestAnswer,score", "a,1,9.5E-1", "", "c,0,1.0E-2", "d,1,6.0E-1"],
        ["id,x,bought", "a,1,yes", "b,2,1", "c,3,maybe", "d,4,0"],
    )

    histogram = histogram_from_batch(
        output, evaluation, target="bought", model_type="BINARY", threshold=0.5
    )

    # b failed and c's target is invalid: a (true 1) and d (true 0) remain.
    assert histogram["counts"] == {
        "0": [0] * 12 + [1] + [0] * 7,
        "1": [0] * 19 + [1],
    }


def test_a_regression_output_gives_the_residuals():
    output, evaluation = files(["score", "1.0E1", "2.5E1"], ["y", "12", "20"])

    histogram = histogram_from_batch(
        output, evaluation, target="y", model_type="REGRESSION", threshold=0.5
    )

    # Residuals 2 and -5; the bins span the 1st to 99th percentile, +-4.93.
    assert (histogram["mean"], histogram["below"], histogram["above"]) == (
        -1.5,
        1,
        0,
    )
    assert (histogram["edges"][0], histogram["edges"][-1]) == (-4.93, 4.93)
    assert histogram["counts"] == [0] * 14 + [1] + [0] * 5


def test_a_multiclass_output_gives_the_confusion_matrix_of_its_best_classes():
    output, evaluation = files(
        [
            "tag,pear,apple,fig",
            "a,2.0E-1,7.0E-1,1.0E-1",
            "b,4.0E-1,2.0E-1,4.0E-1",
            "",
            "d,5.0E-1,2.5E-1,2.5E-1",
            "e,1.0E-1,1.0E-1,8.0E-1",
        ],
        ["id,fruit", "a,apple", "b,pear", "c,fig", "d,", "e,kiwi"],
    )

    matrix = histogram_from_batch(
        output, evaluation, target="fruit", model_type="MULTICLASS", threshold=0.5
    )

    # b's tie between pear and fig goes to fig, first in sorted order; c
    # failed, d has no target; kiwi, never predicted, is a label too.
    assert matrix == {
        "labels": ["apple", "fig", "kiwi", "pear"],
        "matrix": [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]],
    }


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            ["tag", "a"],
            "The batch prediction output names no class; its header is ['tag'].",
        ),
        (
            ["fig,pear", "1.0E-1,high"],
            "The batch prediction output line ['1.0E-1', 'high'] does not hold a "
            "number in every score column: could not convert string to float: 'high'.",
        ),
        (
            ["fig,pear", "1.0E-1"],
            "The batch prediction output line ['1.0E-1'] does not hold a number "
            "in every score column: list index out of range.",
        ),
    ],
)
def test_a_multiclass_output_without_a_score_per_class_is_refused(output, message):
    with pytest.raises(DistributionError) as refused:
        histogram_from_batch(
            *files(output, ["fruit", "fig"]),
            target="fruit",
            model_type="MULTICLASS",
            threshold=0.5,
        )

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("output", "evaluation", "message"),
    [
        (
            ["bestAnswer,probability", "1,0.9"],
            ["bought", "1"],
            "The batch prediction output has no column 'score'; its header is "
            "['bestAnswer', 'probability'].",
        ),
        (
            ["bestAnswer,score", "1,0.9"],
            ["age", "1"],
            "The evaluation file has no column 'bought'; its header is ['age'].",
        ),
        (
            ["bestAnswer,score", "1,0.9", "0,0.1"],
            ["bought", "1"],
            "The batch prediction's output and the evaluation file do not pair up: "
            "the output has more records, from record 2.",
        ),
        (
            ["bestAnswer,score", ""],
            ["bought", "1"],
            "No evaluation record had both a valid target and a prediction.",
        ),
    ],
)
def test_output_that_does_not_fit_the_evaluation_file_is_refused(
    output, evaluation, message
):
    with pytest.raises(DistributionError) as refused:
        histogram_from_batch(
            *files(output, evaluation),
            target="bought",
            model_type="BINARY",
            threshold=0.5,
        )

    assert str(refused.value) == message


def test_a_binary_score_that_is_no_number_is_refused():
    with pytest.raises(DistributionError) as refused:
        histogram_from_batch(
            *files(["bestAnswer,score", "1,high"], ["fruit", "1"]),
            target="fruit",
            model_type="BINARY",
            threshold=0.5,
        )

    assert str(refused.value) == (
        "The batch prediction output line ['1', 'high'] does not hold a number in "
        "every score column: could not convert string to float: 'high'."
    )
