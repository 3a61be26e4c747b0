"""Fixtures for the Amazon backend: stubbed Amazon ML, faked S3, no network.

Amazon ML calls go to a real boto3 client whose responses are queued on a
botocore ``Stubber`` with the exact parameters each call must carry; S3 is
moto's in-process fake. Any connection or name lookup that would leave this
machine fails the test.
"""

import ipaddress
import socket

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlpipeline.backends import amazon, base
from mlpipeline.backends.amazon import AmazonBackend
from mlpipeline.conf import DEFAULTS
from mlpipeline.models import Run

from .stubs import ACCESS_KEY, BUCKET, SECRET


def _local(host):
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail on any connection or lookup beyond the loopback interface."""
    connect = socket.socket.connect
    getaddrinfo = socket.getaddrinfo

    def local_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert _local(address[0]), f"test tried to connect to {address!r}"
        return connect(sock, address)

    def local_getaddrinfo(host, *args, **kwargs):
        assert _local(host), f"test tried to look up {host!r}"
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", local_connect)
    monkeypatch.setattr(socket, "getaddrinfo", local_getaddrinfo)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch, tmp_path):
    """Give boto3 dummy credentials and hide any real configuration."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-creds"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class FakeClock:
    """Stand in for ``time``: sleeping only moves the clock on."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Make polling and retry pauses instant and record them."""
    fake = FakeClock()
    monkeypatch.setattr(base, "time", fake)
    monkeypatch.setattr(amazon, "time", fake)
    return fake


@pytest.fixture
def s3():
    """Fake S3 in-process with moto, holding the empty bucket BUCKET."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def amazon_options(settings):
    """Configure the alias 'amazon'; tests may change the options returned."""
    options = {
        "BUCKET": BUCKET,
        "POLL_DELAY": 30,
        "POLL_TIMEOUT": 600,
        "RETRY_DELAY": 2,
        "RETRY_MAX_DELAY": 5,
    }
    settings.MLPIPELINE_BACKENDS = {
        **DEFAULTS["BACKENDS"],
        "amazon": {
            "BACKEND": "mlpipeline.backends.amazon.AmazonBackend",
            "OPTIONS": options,
        },
    }
    return options


@pytest.fixture
def ml(monkeypatch):
    """Stub Amazon ML: backends all get one client that the stubber answers."""
    client = boto3.client("machinelearning", region_name="us-east-1")
    monkeypatch.setattr(AmazonBackend, "create_client", lambda self: client)
    with Stubber(client) as stubber:
        yield stubber


@pytest.fixture(autouse=True)
def fixed_token(monkeypatch):
    """Give every run the token "tok123", so stubs can expect exact ids."""
    field = Run._meta.get_field("token")
    # Django caches the default's callable once a Run was made; patch both.
    monkeypatch.setattr(field, "default", lambda: "tok123")
    monkeypatch.setattr(field, "_get_default", lambda: "tok123")
