"""The prediction API, fuzzed from its own OpenAPI description.

Schemathesis reads ``/mlpipeline/openapi.json`` from the project's WSGI
application (no network, no server) and sends generated requests, valid
and invalid, with a token. Every answer must be one the description lists,
with the body and content type it describes, and never a 5xx. The run is
bounded and derandomized, so it is the same on every run.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from mlpipeline.learn import learn
from tests.insurance import InsurancePipeline

TOKEN = "fuzz-token"


@pytest.fixture
def api_schema(insured_rows, registered, settings):
    """Serve an insurance model and return the API's description."""
    settings.MLPIPELINE_API_TOKENS = [TOKEN]
    registered(InsurancePipeline)
    learn(InsurancePipeline())
    # Django's test client keeps the test's transaction open by not closing
    # connections at the end of a request; do the same for raw WSGI calls.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi(
        "/mlpipeline/openapi.json", get_wsgi_application()
    )
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "path"),
    [
        (GenerationMode.POSITIVE, {"pipeline": "insurance"}),
        (GenerationMode.NEGATIVE, None),
    ],
    ids=["valid", "invalid"],
)
def test_the_prediction_api_answers_as_described_and_never_5xx(api_schema, mode, path):
    operation = api_schema["/predict/{pipeline}/"]["POST"]

    @settings(
        max_examples=100,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(mode, path_parameters=path))
    def fuzz(case):
        if mode == GenerationMode.POSITIVE:
            _aim_at_attributes(case.body)
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

    fuzz()


#: The served model's attributes, which generated names would rarely hit.
ATTRIBUTES = ["age", "married", "gender"]


def _aim_at_attributes(body):
    """Give a valid body's generated values the model's attribute names.

    The description cannot name a pipeline's attributes, so generated
    records hold made-up names, which the model ignores; renamed, their
    values (any string, number, boolean or null) reach its parsers.
    """
    record = body["Record"]
    values = list(record.values())
    record.clear()
    for i, value in enumerate(values):
        record[ATTRIBUTES[i % len(ATTRIBUTES)]] = value
