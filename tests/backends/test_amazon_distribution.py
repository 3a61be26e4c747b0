"""An Amazon ML model's score or residual distribution, or confusion
matrix, from a batch prediction over its evaluation data, and its page in
the admin."""

import pytest
from botocore.exceptions import ClientError
from django.urls import reverse

from mlpipeline import Pipeline
from mlpipeline.learn import learn, resume
from mlpipeline.models import Run, RunStep
from mlpipeline.serving import serving_run
from project.demo.models import Insured

from .stubs import RunCalls, next_run_number, people_of
from .test_amazon import SCHEMA, AmazonInsurancePipeline

pytestmark = pytest.mark.django_db

AGES_SCHEMA = (
    '{"version": "1.0", "rowId": null, "rowWeight": null, '
    '"targetAttributeName": "age", "dataFormat": "CSV", '
    '"dataFileContainsHeader": true, "attributes": ['
    '{"attributeName": "married", "attributeType": "BINARY"}, '
    '{"attributeName": "gender", "attributeType": "CATEGORICAL"}, '
    '{"attributeName": "insurance", "attributeType": "BINARY"}, '
    '{"attributeName": "age", "attributeType": "NUMERIC"}], '
    '"excludedAttributeNames": []}'
)
REGIONS_SCHEMA = (
    '{"version": "1.0", "rowId": null, "rowWeight": null, '
    '"targetAttributeName": "region", "dataFormat": "CSV", '
    '"dataFileContainsHeader": true, "attributes": ['
    '{"attributeName": "age", "attributeType": "NUMERIC"}, '
    '{"attributeName": "married", "attributeType": "BINARY"}, '
    '{"attributeName": "region", "attributeType": "CATEGORICAL"}], '
    '"excludedAttributeNames": []}'
)
#: Stand-ins for the answers of Amazon ML's batch prediction.
FAILED = ""


class AmazonAgePipeline(Pipeline):
    name = "aws_ages"
    model = Insured
    fields = ["married", "gender", "insurance", "age"]
    target = "age"
    backend = "amazon"


class AmazonRegionPipeline(Pipeline):
    name = "aws_regions"
    model = Insured
    fields = ["age", "married", "region"]
    target = "region"
    backend = "amazon"


#: What an Amazon ML model's page says of its evaluation.
METRIC_ONLY = (
    '<p class="metric-only">The backend reported the metric alone: Amazon '
    "ML&#x27;s GetEvaluation gives no evaluation alerts.</p>"
)


def model_page(admin_client, model):
    """Return the admin page of ``model`` as text."""
    return admin_client.get(
        reverse("admin:mlpipeline_trainedmodel_change", args=[model.pk])
    ).content.decode()


def queue_run(ml, pipeline, model_type, metric, schema):
    calls = RunCalls(ml, pipeline, next_run_number())
    for kind in ("train", "evaluation"):
        calls.data_source(kind, schema=schema, statuses=("COMPLETED",))
    calls.model(model_type)
    calls.evaluation(metric, "0.75")
    return calls


def test_binary_scores_are_counted_per_true_class(insured_rows, s3, ml, amazon_options):
    calls = queue_run(ml, "aws_insurance", "BINARY", "BinaryAUC", SCHEMA)
    calls.batch_prediction()
    people = people_of("aws_insurance", "evaluation")
    # The first record failed; the others score their age in hundredths.
    answers = [FAILED] + [f"{int(p.age >= 50)},{p.age / 100:.4E}" for p in people[1:]]
    calls.batch_output(s3, ["bestAnswer,score", *answers])
    calls.endpoint(("READY",))

    run = learn(AmazonInsurancePipeline())

    ml.assert_no_pending_responses()
    model = run.trained_model
    assert model.distribution == {
        "kind": "score",
        "edges": [index / 20 for index in range(21)],
        "counts": {
            "0": [0, 0, 0, 8, 6, 7, 8, 3, 6, 6, 7, 3, 4, 0, 0, 0, 0, 0, 0, 0],
            "1": [0, 0, 0, 1, 5, 5, 7, 3, 10, 2, 7, 10, 16, 0, 0, 0, 0, 0, 0, 0],
        },
        "threshold": 0.5,
    }
    # Ages 18 to 64 score 0.18 to 0.64; the failed record is left out.
    assert sum(map(sum, model.distribution["counts"].values())) == len(people) - 1
    assert model.distribution_error == ""
    assert model.entity_ids["batch_prediction"] == calls.batch_prediction_id


def test_regression_residuals_are_counted_around_zero(
    insured_rows, s3, ml, amazon_options
):
    calls = queue_run(ml, "aws_ages", "REGRESSION", "RegressionRMSE", AGES_SCHEMA)
    calls.batch_prediction()
    people = people_of("aws_ages", "evaluation")
    # Every record is predicted 40 years old but the second, which failed.
    answers = ["4.0E1", FAILED] + ["4.0E1"] * (len(people) - 2)
    calls.batch_output(s3, ["score", *answers])
    calls.endpoint(("READY",))

    run = learn(AmazonAgePipeline())

    ml.assert_no_pending_responses()
    distribution = run.trained_model.distribution
    assert distribution == {
        "kind": "residual",
        "edges": [-24.0, -21.6, -19.2, -16.8, -14.4, -12.0, -9.6, -7.2, -4.8, -2.4,
                  0.0, 2.4, 4.8, 7.2, 9.6, 12.0, 14.4, 16.8, 19.2, 21.6, 24.0],
        "counts": [0, 7, 4, 8, 2, 2, 5, 11, 5, 2, 8, 3, 4, 5, 5, 5, 2, 12, 4, 13],
        "below": 0,
        "above": 0,
        "mean": 2.822429906542056,
    }  # fmt: skip
    ages = [p.age for index, p in enumerate(people) if index != 1]
    assert sum(distribution["counts"]) == len(ages) == 107
    assert distribution["mean"] == pytest.approx(sum(ages) / len(ages) - 40)


def test_multiclass_batch_scores_give_the_confusion_matrix_and_its_heat_map(
    insured_rows, s3, ml, amazon_options, admin_client
):
    calls = queue_run(
        ml, "aws_regions", "MULTICLASS", "MulticlassAvgFScore", REGIONS_SCHEMA
    )
    calls.batch_prediction()
    people = people_of("aws_regions", "evaluation")
    # The header lists the classes out of sorted order. Married people are
    # predicted west, the others tie, which goes to south, the first class
    # in sorted order; the first record failed.
    answers = [FAILED] + [
        "9.0E-1,1.0E-1" if p.married else "5.0E-1,5.0E-1" for p in people[1:]
    ]
    calls.batch_output(s3, ["west,south", *answers])
    calls.endpoint(("READY",))

    run = learn(AmazonRegionPipeline())

    ml.assert_no_pending_responses()
    model = run.trained_model
    counted = people[1:]
    matrix = [
        [
            sum(p.region == true and (p.married == (guess == "west")) for p in counted)
            for guess in ("south", "west")
        ]
        for true in ("south", "west")
    ]
    assert matrix == [[28, 36], [25, 35]]
    assert model.evaluation == {
        "confusion_matrix": {"labels": ["south", "west"], "matrix": matrix}
    }
    assert (model.distribution, model.distribution_error) == (None, "")
    assert model.entity_ids["batch_prediction"] == calls.batch_prediction_id
    page = model_page(admin_client, model)
    assert f'{METRIC_ONLY}<table class="confusion-matrix">' in page
    # South's F1: 28 hits of 53 predicted and 64 true records.
    assert ">0.479</td>" in page


def test_a_failed_batch_prediction_leaves_the_model_promoted_without_a_chart(
    insured_rows, s3, ml, amazon_options, admin_client
):
    calls = queue_run(ml, "aws_insurance", "BINARY", "BinaryAUC", SCHEMA)
    calls.batch_prediction(("INPROGRESS", "FAILED"), "The model is not usable.")
    calls.endpoint(("READY",))

    run = learn(AmazonInsurancePipeline())

    ml.assert_no_pending_responses()
    assert run.status == Run.Status.SUCCEEDED
    assert serving_run("aws_insurance") == run
    model = run.trained_model
    reason = (
        f"Step 'batchprediction' failed: {calls.batch_prediction_id} says: The "
        "model is not usable."
    )
    assert (model.distribution, model.distribution_error) == (None, reason)
    assert run.events[-1]["event"] == "no distribution"
    page = model_page(admin_client, model)
    assert (
        METRIC_ONLY
        + f'<p class="no-distribution">The score distribution could not be computed: '
        f"Step &#x27;batchprediction&#x27; failed: {calls.batch_prediction_id} "
        "says: The model is not usable.</p>"
    ) in page
    assert '<figure class="distribution"' not in page


def test_output_that_does_not_pair_with_the_evaluation_file_is_reported(
    insured_rows, s3, ml, amazon_options
):
    calls = queue_run(ml, "aws_insurance", "BINARY", "BinaryAUC", SCHEMA)
    calls.batch_prediction(("COMPLETED",))
    calls.batch_output(s3, ["bestAnswer,score", "1,9.0E-1", "0,1.0E-1"])
    calls.endpoint(("READY",))

    run = learn(AmazonInsurancePipeline())

    assert run.trained_model.distribution is None
    assert run.trained_model.distribution_error == (
        "The batch prediction's output and the evaluation file do not pair up: "
        "the evaluation file has more records, from record 3."
    )


def test_a_run_cut_short_waits_for_its_batch_prediction_when_resumed(
    registered, insured_rows, s3, ml, amazon_options
):
    registered(AmazonInsurancePipeline)
    calls = queue_run(ml, "aws_insurance", "BINARY", "BinaryAUC", SCHEMA)
    calls.batch_prediction(("INPROGRESS",))
    key = {"BatchPredictionId": calls.batch_prediction_id}
    # A fault of uncertain meaning ends the attempt after the creation.
    ml.add_client_error("get_batch_prediction", "Mystery", "What?", 400, key)
    with pytest.raises(ClientError, match=r"\(Mystery\)"):
        learn(AmazonInsurancePipeline())
    run = Run.objects.get()
    assert run.steps.get(name="distribution").status == RunStep.Status.FAILED

    calls.polls("get_batch_prediction", key, ("INPROGRESS", "COMPLETED"))
    people = people_of("aws_insurance", "evaluation")
    calls.batch_output(s3, ["bestAnswer,score"] + ["0,1.0E-2"] * len(people))
    calls.endpoint(("READY",))
    resume(run)

    ml.assert_no_pending_responses()
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    reused = [event["detail"] for event in run.events if event["event"] == "reused"]
    assert reused == [
        f"batchprediction {calls.batch_prediction_id} existed from an earlier attempt"
    ]
    assert run.trained_model.distribution["counts"] == {
        "0": [59] + [0] * 19,
        "1": [66] + [0] * 19,
    }
