"""Cleanup of superseded runs on the Amazon backend."""

import pytest
from django.utils import timezone

from mlpipeline.cleanup import cleanup
from mlpipeline.models import Run, RunStep
from tests.served import backdate, serve

from .stubs import BUCKET, ENDPOINT_URL

pytestmark = pytest.mark.django_db


def uploads(run, legacy=False):
    """Return the S3 keys of ``run``'s uploads.

    ``legacy`` runs, made before the split by primary key, uploaded one
    features file and its schema.
    """
    base = f"uploads/aws_tidy-{run.pk}-{run.token}-features"
    if legacy:
        return [f"{base}.csv", f"{base}.csv.schema"]
    return [f"{base}-train.csv", f"{base}-evaluation.csv", f"{base}.csv.schema"]


def amazon_run(s3, days_ago, legacy=False):
    """Record a succeeded Amazon run, serve it, put its files in S3."""
    run = Run.objects.create(
        pipeline="aws_tidy",
        backend="amazon",
        status=Run.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )
    base = f"aws_tidy-{run.pk}-{run.token}"
    keys = uploads(run, legacy)
    locations = [f"s3://{BUCKET}/{key}" for key in keys]
    if legacy:
        upload = {"location": locations[0]}
    else:
        upload = {
            "locations": {"train": locations[0], "evaluation": locations[1]},
            "schema": locations[2],
        }
    run.model_id = f"ml-{base}"
    run.endpoint_url = ENDPOINT_URL
    run.save()
    now = timezone.now()
    entities = {
        "upload": "",
        "train_datasource": f"ds-{base}-train",
        "evaluation_datasource": f"ds-{base}-evaluation",
        "model": run.model_id,
        "evaluation": f"ev-{base}",
        "endpoint": run.model_id,
    }
    for name, entity in entities.items():
        RunStep.objects.create(
            run=run,
            name=name,
            status=RunStep.Status.SUCCEEDED,
            entity_id=entity,
            started_at=now,
            detail=upload if name == "upload" else {},
        )
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"a,b\n")
    return backdate(serve(run), days_ago)


def keys(s3):
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return [item["Key"] for item in listing]


@pytest.mark.parametrize("legacy", [False, True], ids=["three files", "legacy"])
def test_cleanup_takes_down_the_endpoint_first_then_everything_else(
    s3, ml, amazon_options, legacy
):
    old = amazon_run(s3, 40, legacy)
    previous, serving = amazon_run(s3, 30), amazon_run(s3, 20)
    model = {"MLModelId": old.model_id}
    ready = {
        "EndpointStatus": "READY",
        "EndpointUrl": ENDPOINT_URL,
        "PeakRequestsPerSecond": 200,
    }
    ml.add_response(
        "get_ml_model", {**model, "Status": "COMPLETED", "EndpointInfo": ready}, model
    )
    ml.add_response(
        "delete_realtime_endpoint",
        {**model, "RealtimeEndpointInfo": {"EndpointStatus": "NONE"}},
        model,
    )
    evaluation = {"EvaluationId": f"ev-aws_tidy-{old.pk}-{old.token}"}
    ml.add_response("delete_evaluation", evaluation, evaluation)
    ml.add_response("delete_ml_model", model, model)
    train = {"DataSourceId": f"ds-aws_tidy-{old.pk}-{old.token}-train"}
    ml.add_response("delete_data_source", train, train)
    ml.add_client_error(
        "delete_data_source",
        "ResourceNotFoundException",
        "No such DataSource.",
        expected_params={
            "DataSourceId": f"ds-aws_tidy-{old.pk}-{old.token}-evaluation"
        },
    )

    (cleaned,) = cleanup()

    ml.assert_no_pending_responses()
    assert cleaned.deleted == {
        "endpoint": [old.model_id],
        "evaluation": [f"ev-aws_tidy-{old.pk}-{old.token}"],
        "mlmodel": [old.model_id],
        "datasource": [f"ds-aws_tidy-{old.pk}-{old.token}-train"],
        "file": [f"s3://{BUCKET}/{key}" for key in uploads(old, legacy)],
    }
    # The previous model, a rollback's target, stays whole, and so does the
    # active one.
    assert keys(s3) == sorted(uploads(previous) + uploads(serving))
    assert old.steps.get(name="cleanup").detail == {"deleted": cleaned.deleted}


def test_a_model_already_deleted_is_skipped_and_a_refusal_is_reported(
    s3, ml, amazon_options
):
    old = amazon_run(s3, 40)
    amazon_run(s3, 30)
    amazon_run(s3, 20)
    model = {"MLModelId": old.model_id}
    gone = {"EndpointStatus": "NONE", "PeakRequestsPerSecond": 0}
    ml.add_response(
        "get_ml_model", {**model, "Status": "DELETED", "EndpointInfo": gone}, model
    )
    ml.add_client_error(
        "delete_evaluation",
        "LimitExceededException",
        "Slow down.",
        expected_params={"EvaluationId": f"ev-aws_tidy-{old.pk}-{old.token}"},
    )

    (cleaned,) = cleanup()

    ml.assert_no_pending_responses()
    assert cleaned.deleted == {}
    assert cleaned.error.startswith(
        "Amazon ML refused DeleteEvaluation because the account reached a service "
        "limit: Slow down. Wait"
    )
    step = old.steps.get(name="cleanup")
    assert step.status == RunStep.Status.FAILED
    assert len(keys(s3)) == 9
