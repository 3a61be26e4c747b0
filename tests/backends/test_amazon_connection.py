"""Amazon backend: S3 and Amazon ML endpoints that cannot be reached.

The endpoint is a loopback port nothing listens on, so every connection is
refused at once and no test leaves this machine.
"""

import socket

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from mlpipeline.backends import get_backend
from mlpipeline.backends.amazon import AmazonBackend, unreachable_error
from mlpipeline.exceptions import BackendError
from mlpipeline.learn import learn
from mlpipeline.models import Run

from .stubs import ACCESS_KEY, BUCKET, SECRET
from .test_amazon_secrets import SECRETS, AmazonInsurancePipeline, everything_recorded

ADVICE = (
    "Check the network and proxy, the backend's REGION, and AWS_ENDPOINT_URL or "
    "the endpoint_url of STORAGE_OPTIONS if one is set; then run again."
)


@pytest.fixture
def endpoint(monkeypatch):
    """Point every AWS client at a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    return url


def test_an_unreachable_s3_endpoint_is_a_backend_error(
    amazon_options, endpoint, tmp_path
):
    path = tmp_path / "features.csv"
    path.write_bytes(b"a,b\n1,2\n")

    with pytest.raises(BackendError) as refused:
        get_backend("amazon").upload(path, "uploads/p-1-features.csv")

    assert str(refused.value) == (
        f"S3 at {endpoint} (bucket {BUCKET!r}) could not be reached for PutObject "
        f"after botocore's retries (EndpointConnectionError). {ADVICE}"
    )
    assert (refused.value.operation, refused.value.code) == (
        "PutObject",
        "EndpointConnectionError",
    )


def test_an_unreachable_amazon_ml_endpoint_fails_after_the_retries(
    amazon_options, endpoint, clock
):
    amazon_options["MAX_ATTEMPTS"] = 3

    with pytest.raises(BackendError) as refused:
        get_backend("amazon").client.get_evaluation(EvaluationId="ev-1")

    assert str(refused.value) == (
        f"Amazon ML at {endpoint} could not be reached for GetEvaluation after 3 "
        f"attempts (EndpointConnectionError). {ADVICE}"
    )
    assert clock.sleeps == [2, 4]


def test_a_read_timeout_names_the_endpoint_without_user_or_query():
    err = ReadTimeoutError(endpoint_url="https://user:pw@ml.example:8443/x?Sig=abc")

    error = unreachable_error(err, service="Amazon ML", operation="Predict", attempts=1)

    assert str(error) == (
        "Amazon ML at https://ml.example:8443 did not answer Predict in time after "
        f"1 attempt (ReadTimeoutError). {ADVICE}"
    )


@pytest.mark.django_db
def test_learn_records_the_unreachable_s3_on_the_run_without_secrets(
    insured_rows, amazon_options, endpoint, monkeypatch, caplog
):
    client = boto3.client("machinelearning", region_name="us-east-1")
    monkeypatch.setattr(AmazonBackend, "create_client", lambda self: client)

    with pytest.raises(BackendError):
        learn(AmazonInsurancePipeline())

    run = Run.objects.get()
    assert (run.status, run.error) == (
        Run.Status.FAILED,
        f"S3 at {endpoint} (bucket {BUCKET!r}) could not be reached for PutObject "
        f"after botocore's retries (EndpointConnectionError). {ADVICE}",
    )
    recorded = everything_recorded(run, caplog)
    assert [
        s for s in (*SECRETS, ACCESS_KEY, SECRET) if any(s in t for t in recorded)
    ] == []
