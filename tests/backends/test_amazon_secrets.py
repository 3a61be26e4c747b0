"""AWS credentials never reach a run's record, a log line or a mail, also
when the Amazon backend fails."""

import json
import logging

import pytest
from django.core import mail

from mlpipeline import Pipeline
from mlpipeline.exceptions import BackendError
from mlpipeline.learn import learn
from mlpipeline.models import Run
from project.demo.models import Insured

from .stubs import ACCESS_KEY, SECRET, RunCalls, next_run_number
from .test_amazon import queue_data_sources

pytestmark = pytest.mark.django_db

#: Credentials given to django-storages directly, beside boto3's chain.
STORAGE_KEY = "AKIASTORAGEOPTIONKEY9"
STORAGE_SECRET = "storage-secret-that-must-never-be-logged"
SECRETS = (ACCESS_KEY, SECRET, STORAGE_KEY, STORAGE_SECRET)


class AmazonInsurancePipeline(Pipeline):
    name = "aws_insurance"
    model = Insured
    fields = ["age", "married", "gender", "insurance"]
    target = "insurance"
    backend = "amazon"


def everything_recorded(run, caplog):
    """Return every text a failed run leaves for people to read."""
    texts = [run.error, json.dumps(run.events), caplog.text]
    texts += list(run.steps.values_list("error", flat=True))
    texts += [f"{message.subject}\n{message.body}" for message in mail.outbox]
    return texts


@pytest.fixture
def secret_options(amazon_options, settings, caplog):
    settings.ADMINS = [("Ops", "ops@example.com")]
    amazon_options["STORAGE_OPTIONS"] = {
        "access_key": STORAGE_KEY,
        "secret_key": STORAGE_SECRET,
    }
    caplog.set_level(logging.DEBUG, logger="mlpipeline")
    caplog.set_level(logging.INFO)
    return amazon_options


def test_no_credential_is_recorded_when_s3_refuses_the_upload(
    insured_rows, s3, ml, secret_options, caplog
):
    secret_options["BUCKET"] = "no-such-bucket"

    with pytest.raises(BackendError):
        learn(AmazonInsurancePipeline())

    run = Run.objects.get()
    assert run.error == (
        "S3 refused PutObject: The specified bucket does not exist. Create the "
        "bucket, or correct the backend's BUCKET option."
    )
    assert len(mail.outbox) == 1
    recorded = everything_recorded(run, caplog)
    assert [s for s in SECRETS if any(s in text for text in recorded)] == []


def test_no_credential_is_recorded_when_amazon_ml_refuses_a_call(
    insured_rows, s3, ml, secret_options, caplog
):
    calls = RunCalls(ml, "aws_insurance", next_run_number())
    # The data sources are made; the model is refused for the credentials.
    queue_data_sources(calls)
    ml.add_client_error(
        "create_ml_model",
        "AccessDeniedException",
        f"User: arn:aws:iam::111122223333:user/ci is not authorized to perform "
        f"machinelearning:CreateMLModel (access key {ACCESS_KEY[:4]}...).",
        400,
    )

    with pytest.raises(BackendError):
        learn(AmazonInsurancePipeline())

    run = Run.objects.get()
    assert run.error.startswith("AWS denied CreateMLModel: User: arn:aws:iam::")
    recorded = everything_recorded(run, caplog)
    assert [s for s in SECRETS if any(s in text for text in recorded)] == []
