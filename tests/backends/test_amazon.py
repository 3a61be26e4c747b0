"""The Amazon backend, driven through a stubbed Amazon ML and a faked S3."""

import json
import logging
from io import StringIO

import pytest
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from mlpipeline import Pipeline
from mlpipeline.backends import get_backend
from mlpipeline.backends.amazon import AmazonBackend
from mlpipeline.exceptions import (
    BackendError,
    RunNotFound,
    StepFailed,
    StepTimedOut,
)
from mlpipeline.learn import learn
from mlpipeline.models import Run, RunStep
from mlpipeline.serving import predict, serving_run
from mlpipeline.split import SplitRule
from project.demo.models import Insured
from tests.served import serve

from .stubs import (
    ACCESS_KEY,
    BUCKET,
    ENDPOINT_URL,
    PARAMETERS,
    SECRET,
    RunCalls,
    next_run_number,
    run_learn,
)

pytestmark = pytest.mark.django_db

SCHEMA = (
    '{"version": "1.0", "rowId": null, "rowWeight": null, '
    '"targetAttributeName": "insurance", "dataFormat": "CSV", '
    '"dataFileContainsHeader": true, "attributes": ['
    '{"attributeName": "age", "attributeType": "NUMERIC"}, '
    '{"attributeName": "married", "attributeType": "BINARY"}, '
    '{"attributeName": "gender", "attributeType": "CATEGORICAL"}, '
    '{"attributeName": "insurance", "attributeType": "BINARY"}], '
    '"excludedAttributeNames": []}'
)
NOT_ADMITTED = (
    "Thank you for your interest in Amazon Machine Learning. AmazonML is no "
    "longer available to new customers.  Please consider using Amazon SageMaker."
)


class InsurancePipeline(Pipeline):
    name = "aws_insurance"
    model = Insured
    fields = ["age", "married", "gender", "insurance"]
    target = "insurance"


class AmazonInsurancePipeline(InsurancePipeline):
    backend = "amazon"


def queue_data_sources(calls, **statuses):
    for kind in ("train", "evaluation"):
        calls.data_source(
            kind, schema=SCHEMA, statuses=statuses.get(kind, ("COMPLETED",))
        )


def features_file(kind):
    """Return the features file of one side of the split, as it should be."""
    rule = SplitRule("aws_insurance", 70)
    lines = [
        f"{p.age},{int(p.married)},{p.gender},{int(p.insurance)}\n"
        for p in Insured.objects.order_by("pk")
        if rule.side(str(p.pk)) == kind
    ]
    return "age,married,gender,insurance\n" + "".join(lines)


def step_statuses(run):
    return list(run.steps.values_list("name", "status"))


def test_learn_command_trains_serves_and_predicts_on_amazon_ml(
    registered, insured_rows, s3, ml, clock, amazon_options, settings, caplog
):
    settings.MLPIPELINE_DEFAULT_BACKEND = "amazon"
    registered(InsurancePipeline)
    number = next_run_number()
    calls = RunCalls(ml, "aws_insurance", number)
    queue_data_sources(
        calls, train=("INPROGRESS", "COMPLETED"), evaluation=("PENDING", "COMPLETED")
    )
    calls.model("BINARY", statuses=("PENDING", "INPROGRESS", "COMPLETED"))
    calls.evaluation("BinaryAUC", "0.8125")
    calls.endpoint(("UPDATING", "READY"))
    caplog.set_level(logging.DEBUG, logger="mlpipeline")

    out, err = run_learn("aws_insurance")

    ml.assert_no_pending_responses()
    run = Run.objects.get()
    assert (out, err) == (
        f"aws_insurance: BINARY model ml-aws_insurance-{number}-tok123 BinaryAUC "
        "0.8125; "
        f"rows 400 = {run.rows_train} train + {run.rows_evaluation} evaluation; "
        f"predictions at {ENDPOINT_URL}\n",
        "",
    )
    assert run.backend == "amazon"
    assert step_statuses(run) == [
        (name, RunStep.Status.SUCCEEDED)
        for name in (
            "extract", "transform", "upload", "train_datasource",
            "evaluation_datasource", "model", "evaluation", "endpoint",
        )
    ]  # fmt: skip
    expected = {kind: features_file(kind) for kind in ("train", "evaluation")}
    assert run.rows_extracted == run.rows_written == 400
    assert (run.rows_train, run.rows_evaluation) == (
        expected["train"].count("\n") - 1,
        expected["evaluation"].count("\n") - 1,
    )
    assert run.rows_train + run.rows_evaluation == 400
    assert run.split == {
        "method": "sha256(seed|pk)",
        "seed": "aws_insurance",
        "train_percent": 70,
    }
    assert run.parameters == PARAMETERS
    assert clock.sleeps == [30] * 5
    upload = run.steps.get(name="upload")
    assert upload.detail == {
        "locations": calls.locations,
        "schema": calls.schema_location,
    }

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    features = f"uploads/aws_insurance-{number}-tok123-features"
    assert keys == [
        f"{features}-evaluation.csv",
        f"{features}-train.csv",
        f"{features}.csv.schema",
    ]
    for key in keys:
        assert s3.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == (
            "AES256"
        )
    for kind, body in expected.items():
        stored = s3.get_object(Bucket=BUCKET, Key=f"{features}-{kind}.csv")["Body"]
        assert stored.read().decode() == body
    schema_file = s3.get_object(Bucket=BUCKET, Key=f"{features}.csv.schema")["Body"]
    assert json.loads(schema_file.read()) == json.loads(SCHEMA)

    ml.add_response(
        "predict",
        {
            "Prediction": {
                "predictedLabel": "1",
                "predictedScores": {"1": 0.8125},
                "details": {"PredictiveModelType": "BINARY", "Algorithm": "SGD"},
            }
        },
        {
            "MLModelId": f"ml-aws_insurance-{number}-tok123",
            "Record": {"age": "63", "married": "1", "gender": "male"},
            "PredictEndpoint": ENDPOINT_URL,
        },
    )
    answer = predict("aws_insurance", {"age": 63, "married": True, "gender": "male"})
    assert answer["predictedLabel"] == "1"
    ml.assert_no_pending_responses()
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("mlpipeline")
    )
    assert "Amazon ML create_ml_model" in ours
    assert ACCESS_KEY not in ours
    assert SECRET not in ours


def test_same_declaration_runs_on_either_backend_by_changing_one_setting(
    registered, insured_rows, s3, ml, amazon_options, settings
):
    registered(InsurancePipeline)
    run_learn("aws_insurance")
    embedded = Run.objects.get()
    assert embedded.backend == "embedded"

    settings.MLPIPELINE_DEFAULT_BACKEND = "amazon"
    calls = RunCalls(ml, "aws_insurance", embedded.pk + 1)
    queue_data_sources(calls)
    calls.model("BINARY")
    calls.evaluation("BinaryAUC", "0.79")
    calls.endpoint(("READY",))
    run_learn("aws_insurance")

    ml.assert_no_pending_responses()
    amazon = Run.objects.get(backend="amazon")
    assert amazon.status == Run.Status.SUCCEEDED
    # The same file and split rule give the same counts on both backends.
    assert (amazon.rows_train, amazon.rows_evaluation) == (
        embedded.rows_train,
        embedded.rows_evaluation,
    )
    assert serving_run("aws_insurance") == amazon


def test_data_source_that_fails_ends_the_run_with_the_service_message(
    insured_rows, s3, ml, amazon_options
):
    number = next_run_number()
    calls = RunCalls(ml, "aws_insurance", number)
    calls.data_source(
        "train",
        schema=SCHEMA,
        statuses=("INPROGRESS", "FAILED"),
        message="More than 10,000 records were rejected.",
    )

    with pytest.raises(StepFailed) as failed:
        learn(AmazonInsurancePipeline())

    ml.assert_no_pending_responses()
    assert str(failed.value) == (
        f"Step 'datasource' failed: ds-aws_insurance-{number}-tok123-train says: More "
        "than 10,000 records were rejected."
    )
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert run.error == str(failed.value)
    assert step_statuses(run)[2:] == [
        ("upload", RunStep.Status.SUCCEEDED),
        ("train_datasource", RunStep.Status.FAILED),
    ]


def test_model_that_times_out_ends_the_run_before_the_evaluation(
    insured_rows, s3, ml, clock, amazon_options
):
    amazon_options.update(POLL_DELAY=30, POLL_TIMEOUT=90)
    number = next_run_number()
    calls = RunCalls(ml, "aws_insurance", number)
    queue_data_sources(calls)
    calls.model("BINARY", statuses=("INPROGRESS",) * 4)

    with pytest.raises(StepTimedOut):
        learn(AmazonInsurancePipeline())

    ml.assert_no_pending_responses()
    assert clock.sleeps == [30, 30, 30]
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert run.error == (
        f"mlmodel ml-aws_insurance-{number}-tok123 is still INPROGRESS after 90 s (the "
        "backend's POLL_TIMEOUT); the job may go on in the service. Raise "
        "POLL_TIMEOUT if such jobs are just slow."
    )
    assert step_statuses(run)[-1] == ("model", RunStep.Status.FAILED)
    assert not run.model_id


def test_endpoint_that_stays_updating_is_deleted_and_never_serves(
    insured_rows, s3, ml, clock, amazon_options, caplog
):
    amazon_options.update(POLL_DELAY=30, POLL_TIMEOUT=60)
    number = next_run_number()
    calls = RunCalls(ml, "aws_insurance", number)
    queue_data_sources(calls)
    calls.model("BINARY")
    calls.evaluation("BinaryAUC", "0.8")
    calls.endpoint(("UPDATING",) * 3)
    ml.add_response(
        "delete_realtime_endpoint",
        {
            "MLModelId": calls.model_id,
            "RealtimeEndpointInfo": {
                "EndpointStatus": "NONE",
                "PeakRequestsPerSecond": 0,
            },
        },
        {"MLModelId": calls.model_id},
    )

    with pytest.raises(StepTimedOut, match="still UPDATING after 60 s"):
        learn(AmazonInsurancePipeline())

    ml.assert_no_pending_responses()
    run = Run.objects.get()
    assert step_statuses(run)[-1] == ("endpoint", RunStep.Status.FAILED)
    assert run.endpoint_url == ""
    assert f"Deleted the realtime endpoint of {calls.model_id}" in caplog.text
    with pytest.raises(RunNotFound):
        serving_run("aws_insurance")


def test_throttling_and_server_faults_are_retried_with_backoff(
    ml, clock, amazon_options, caplog
):
    request = {
        "EvaluationId": "ev-1",
        "EvaluationName": "one",
        "MLModelId": "ml-1",
        "EvaluationDataSourceId": "ds-1",
    }
    ml.add_client_error(
        "create_evaluation", "ThrottlingException", "Rate exceeded", 400,
        expected_params=request,
    )  # fmt: skip
    ml.add_client_error(
        "create_evaluation", "InternalServerException", "Oops", 500,
        expected_params=request,
    )  # fmt: skip
    ml.add_client_error(
        "create_evaluation", "ThrottlingException", "Rate exceeded", 400,
        expected_params=request,
    )  # fmt: skip
    ml.add_response("create_evaluation", {"EvaluationId": "ev-1"}, request)

    get_backend("amazon").create_evaluation(
        "ev-1", name="one", model_id="ml-1", data_source_id="ds-1"
    )

    ml.assert_no_pending_responses()
    assert clock.sleeps == [2, 4, 5]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "Amazon ML create_evaluation ml-1 ev-1: ThrottlingException; attempt 1 of "
        "5, trying again in 2.0 s",
        "Amazon ML create_evaluation ml-1 ev-1: InternalServerException; attempt 2 "
        "of 5, trying again in 4.0 s",
        "Amazon ML create_evaluation ml-1 ev-1: ThrottlingException; attempt 3 of "
        "5, trying again in 5.0 s",
    ]


def test_throttling_past_the_limit_says_what_to_change(ml, clock, amazon_options):
    amazon_options["MAX_ATTEMPTS"] = 3
    for _ in range(3):
        ml.add_client_error(
            "get_ml_model", "ThrottlingException", "Rate exceeded", 400,
            expected_params={"MLModelId": "ml-1"},
        )  # fmt: skip

    with pytest.raises(BackendError) as refused:
        get_backend("amazon").wait("mlmodel", "ml-1")

    assert str(refused.value) == (
        "Amazon ML throttled GetMLModel 3 times in a row (ThrottlingException); run "
        "fewer pipelines at once, or raise the backend's MAX_ATTEMPTS."
    )
    assert clock.sleeps == [2, 4]


def test_new_customer_refusal_points_to_the_embedded_backend(
    registered, insured_rows, s3, ml, clock, amazon_options
):
    registered(AmazonInsurancePipeline)
    ml.add_client_error(
        "create_data_source_from_s3", "AccessDeniedException", NOT_ADMITTED, 403
    )

    with pytest.raises(CommandError, match="Failed: aws_insurance"):
        run_learn("aws_insurance")

    ml.assert_no_pending_responses()
    assert clock.sleeps == []
    run = Run.objects.get()
    assert run.error == (
        "Amazon ML refused CreateDataSourceFromS3: it does not admit this AWS "
        "account, because the service no longer takes new customers "
        f"({NOT_ADMITTED[:-1]}). Train with the embedded backend instead: set "
        "MLPIPELINE_DEFAULT_BACKEND = 'embedded', or backend = 'embedded' on the "
        "pipeline."
    )


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "InvalidInputException",
            "Parameter sgd.maxPasses is out of range.",
            "Amazon ML refused CreateMLModel as invalid: Parameter sgd.maxPasses is "
            "out of range. Change the value it names in the pipeline's declaration "
            "or the backend's OPTIONS.",
        ),
        (
            "LimitExceededException",
            "Too many jobs.",
            "Amazon ML refused CreateMLModel because the account reached a service "
            "limit: Too many jobs. Wait for running jobs to finish (at most 25 run "
            "at once) or ask AWS to raise the limit, then run again.",
        ),
        (
            "ResourceNotFoundException",
            "No DataSource ds-1.",
            "Amazon ML has no entity for CreateMLModel: No DataSource ds-1. It was "
            "deleted, or was made in another region than the backend's REGION "
            "'us-east-1'.",
        ),
        (
            "IdempotentParameterMismatchException",
            "ml-1 exists.",
            "Amazon ML refused CreateMLModel: an entity with this id already exists "
            "with other parameters (ml-1 exists). Entity ids hold the pipeline's "
            "name, the run's number and a random token, so this should not happen; "
            "start a new run.",
        ),
        (
            "AccessDeniedException",
            "User is not authorized.",
            "AWS denied CreateMLModel: User is not authorized. Grant the "
            "credentials in use the IAM permissions listed in mlpipeline's README.",
        ),
    ],
)
def test_service_refusals_end_the_step_without_retrying(
    ml, clock, amazon_options, code, message, expected
):
    ml.add_client_error("create_ml_model", code, message, 400)

    with pytest.raises(BackendError) as refused:
        get_backend("amazon").create_ml_model(
            "ml-1",
            name="one",
            model_type="BINARY",
            parameters=PARAMETERS,
            data_source_id="ds-1",
        )

    assert str(refused.value) == expected
    assert (refused.value.operation, refused.value.code) == ("CreateMLModel", code)
    assert clock.sleeps == []


def test_predictions_above_the_endpoint_limit_say_so(ml, clock, amazon_options):
    ml.add_client_error(
        "predict", "LimitExceededException", "Rate exceeded.", 400,
        expected_params={
            "MLModelId": "ml-1", "Record": {"age": "30"},
            "PredictEndpoint": ENDPOINT_URL,
        },
    )  # fmt: skip

    with pytest.raises(BackendError) as refused:
        get_backend("amazon").predict("ml-1", {"age": "30"}, ENDPOINT_URL)

    assert str(refused.value) == (
        "Amazon ML refused Predict because the endpoint reached its limit: Rate "
        "exceeded. An endpoint answers at most 200 predictions per second; send "
        "fewer at once."
    )
    assert clock.sleeps == []


def test_errors_of_uncertain_meaning_pass_through_unchanged(ml, amazon_options):
    ml.add_client_error("get_evaluation", "SomethingNew", "What?", 400)

    with pytest.raises(ClientError, match=r"\(SomethingNew\)"):
        get_backend("amazon").wait("evaluation", "ev-1")


def test_uploads_are_encrypted_with_kms_when_configured(s3, amazon_options, tmp_path):
    amazon_options["KMS_KEY_ID"] = "alias/mlpipeline"
    path = tmp_path / "features.csv"
    path.write_bytes(b"a,b\n1,2\n")

    location = get_backend("amazon").upload(path, "uploads/p-1-features.csv")

    assert location == f"s3://{BUCKET}/uploads/p-1-features.csv"
    head = s3.head_object(Bucket=BUCKET, Key="uploads/p-1-features.csv")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == (
        "aws:kms",
        "alias/mlpipeline",
    )


def test_large_files_go_up_in_parts_with_a_whole_file_checksum(
    s3, amazon_options, tmp_path
):
    mib = 1024 * 1024
    amazon_options.update(MULTIPART_THRESHOLD=5 * mib, MULTIPART_CHUNKSIZE=5 * mib)
    path = tmp_path / "features.csv"
    path.write_bytes(b"x,y\n" + b"1234567,abcdefgh\n" * (11 * mib // 17))

    get_backend("amazon").upload(path, "uploads/big.csv")

    head = s3.head_object(Bucket=BUCKET, Key="uploads/big.csv", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"')
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ContentLength"] == path.stat().st_size
    assert head["ServerSideEncryption"] == "AES256"


def test_upload_that_does_not_match_the_file_is_refused(
    s3, amazon_options, tmp_path, monkeypatch
):
    path = tmp_path / "features.csv"
    path.write_bytes(b"a,b\n1,2\n")
    backend = get_backend("amazon")
    original = backend.s3_storage

    def storage(*args, **kwargs):
        # S3 ends up holding other bytes than the file (a concurrent writer).
        made = original(*args, **kwargs)
        save = made.save
        made.save = lambda name, content: save(name, ContentFile(b"other bytes\n"))
        return made

    monkeypatch.setattr(backend, "s3_storage", storage)

    with pytest.raises(BackendError) as refused:
        backend.upload(path, "uploads/p-1-features.csv")

    assert str(refused.value) == (
        f"The object at s3://{BUCKET}/uploads/p-1-features.csv does not match "
        "features.csv: S3 holds 12 bytes, CRC32 CpcHew==, encryption AES256; the "
        "file has 8 bytes, CRC32 CpcHew==, encryption AES256. Nothing was made "
        "from it; run again."
    )


def test_missing_bucket_says_which_option_to_fix(s3, amazon_options, tmp_path):
    amazon_options["BUCKET"] = "no-such-bucket"
    path = tmp_path / "features.csv"
    path.write_bytes(b"a,b\n1,2\n")

    with pytest.raises(BackendError) as refused:
        get_backend("amazon").upload(path, "uploads/p-1-features.csv")

    assert str(refused.value) == (
        "S3 refused PutObject: The specified bucket does not exist. Create the "
        "bucket, or correct the backend's BUCKET option."
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {},
            "MLPIPELINE_BACKENDS['amazon']['OPTIONS'] needs BUCKET, the S3 bucket "
            "that features files are uploaded to.",
        ),
        (
            {"BUCKET": "b", "REGION": "us-west-2"},
            "MLPIPELINE_BACKENDS['amazon']['OPTIONS']['REGION'] is 'us-west-2'; "
            "Amazon ML runs only in us-east-1 and eu-west-1.",
        ),
        (
            {"BUCKET": "b", "BUKET": "b"},
            "MLPIPELINE_BACKENDS['amazon']['OPTIONS'] has the unknown option 'BUKET'; "
            "the Amazon backend takes BUCKET, KMS_KEY_ID, MAX_ATTEMPTS, "
            "MULTIPART_CHUNKSIZE, MULTIPART_THRESHOLD, POLL_DELAY, POLL_TIMEOUT, "
            "REGION, RETRY_DELAY, RETRY_MAX_DELAY, STORAGE_OPTIONS.",
        ),
        (
            {"BUCKET": "b", "MAX_ATTEMPTS": 0},
            "MLPIPELINE_BACKENDS['amazon']['OPTIONS']['MAX_ATTEMPTS'] is 0; use 1 "
            "or more.",
        ),
    ],
)
def test_options_are_checked_when_the_backend_is_made(options, message):
    with pytest.raises(ImproperlyConfigured) as wrong:
        AmazonBackend("amazon", **options)

    assert str(wrong.value) == message


def test_client_is_made_for_the_region_without_botocore_retries():
    client = AmazonBackend("amazon", BUCKET="b", REGION="eu-west-1").create_client()

    assert client.meta.region_name == "eu-west-1"
    assert client.meta.service_model.service_name == "machinelearning"
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_ask_endpoints_sends_signed_predictions_to_amazon_ml(
    registered, insured_rows, ml, amazon_options
):
    registered(AmazonInsurancePipeline)
    run = Run.objects.create(
        pipeline="aws_insurance",
        backend="amazon",
        status=Run.Status.SUCCEEDED,
        model_type="BINARY",
        model_id="ml-aws_insurance-9",
        endpoint_url=ENDPOINT_URL,
        finished_at=timezone.now(),
    )
    serve(run)
    first = Insured.objects.order_by("pk").first()
    record = {
        "age": str(first.age),
        "married": "1" if first.married else "0",
        "gender": first.gender,
    }
    ml.add_response(
        "predict",
        {
            "Prediction": {
                "predictedLabel": "0",
                "predictedScores": {"0": 0.25},
                "details": {"PredictiveModelType": "BINARY", "Algorithm": "SGD"},
            }
        },
        {"MLModelId": run.model_id, "Record": record, "PredictEndpoint": ENDPOINT_URL},
    )
    out = StringIO()

    call_command("ask_endpoints", "aws_insurance", stdout=out)

    ml.assert_no_pending_responses()
    truth = "1" if first.insurance else "0"
    assert out.getvalue() == (
        f"aws_insurance: {ENDPOINT_URL} answered '0' (scores: '0' 0.250); true "
        f"value {truth!r}\n"
    )


def test_the_refusal_is_recognised_in_either_wording():
    from botocore.exceptions import ClientError

    from mlpipeline.backends.amazon import translate_error

    for message in [
        "AmazonML is no longer available to new customers.",
        "We are no longer accepting new users for Amazon Machine Learning.",
    ]:
        err = ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": message}},
            "CreateMLModel",
        )
        assert "no longer takes new customers" in str(translate_error(err, attempts=1))
