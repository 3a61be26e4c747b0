import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from mlpipeline import Pipeline
from mlpipeline.backends import get_backend
from mlpipeline.conf import DEFAULTS
from mlpipeline.learn import learn
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


TOKEN = "endpoint-token"


@pytest.fixture(autouse=True)
def tokens(settings):
    settings.MLPIPELINE_API_TOKENS = ["another-token", TOKEN]


@pytest.fixture
def run(insured_rows):
    return learn(InsurancePipeline())


def post(client, url, body, token=TOKEN):
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, data, content_type="application/json", headers=headers)


def test_without_credentials_the_endpoint_answers_401(client, run):
    response = post(client, run.endpoint_url, {"Record": {"age": "61"}}, token="")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="mlpipeline"'
    assert response.json() == {
        "__type": "UnauthorizedException",
        "message": "Send a token ('Authorization: Bearer <token>') or sign in.",
    }


@pytest.mark.parametrize("header", ["Bearer guess", "Basic endpoint-token", "Bearer"])
def test_a_wrong_token_is_a_401(client, run, header):
    response = client.post(
        run.endpoint_url,
        json.dumps({"Record": {}}),
        content_type="application/json",
        headers={"Authorization": header},
    )

    assert response.status_code == 401
    assert response.json() == {
        "__type": "UnauthorizedException",
        "message": "The Authorization header holds no token of "
        "MLPIPELINE_API_TOKENS; send 'Authorization: Bearer <token>'.",
    }


def test_a_signed_in_user_needs_the_permission_and_a_csrf_token(run):
    user = User.objects.create_user("reader", password="pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/login/")  # sets the csrftoken cookie
    csrf = {"X-CSRFToken": client.cookies["csrftoken"].value}
    body = json.dumps({"Record": {"age": "61"}})

    def ask(headers):
        return client.post(
            run.endpoint_url, body, content_type="application/json", headers=headers
        )

    refused = ask(csrf)
    user.user_permissions.add(Permission.objects.get(codename="predict"))
    forged = ask({})
    answered = ask(csrf)

    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "User 'reader' may not predict; grant the permission mlpipeline.predict.",
    )
    assert forged.status_code == 403
    assert forged.json()["message"].startswith("CSRF check failed")
    assert answered.status_code == 200
    assert answered.json() == post(Client(), run.endpoint_url, json.loads(body)).json()


def test_endpoint_answers_a_record_like_amazon_ml(client, run):
    response = post(
        client,
        run.endpoint_url,
        {"MLModelId": run.model_id, "Record": {"age": "61", "married": "yes"}},
    )

    assert response.status_code == 200
    prediction = response.json()["Prediction"]
    assert prediction["details"] == {
        "PredictiveModelType": "BINARY",
        "Algorithm": "SGD",
    }
    ((label, score),) = prediction["predictedScores"].items()
    assert label == prediction["predictedLabel"]
    assert label == ("1" if score >= 0.5 else "0")


def test_missing_and_unknown_attributes_are_treated_as_missing(client, run):
    empty = post(client, run.endpoint_url, {"Record": {}})
    unknown = post(client, run.endpoint_url, {"Record": {"shoe_size": "44"}})

    assert empty.status_code == unknown.status_code == 200
    assert empty.json() == unknown.json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "The request body is not JSON: Expecting property name"),
        ({"record": {}}, 'a JSON object with a "Record" object'),
        ({"Record": {"age": [61]}}, "Record attribute 'age' holds list"),
        ({"MLModelId": "ml-other", "Record": {}}, "'ml-other' does not match"),
    ],
)
def test_bad_requests_get_a_400_that_says_why(client, run, body, message):
    response = post(client, run.endpoint_url, body)

    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidInputException"
    assert message in response.json()["message"]


def test_unknown_model_is_a_404(client, db):
    response = post(client, "/mlpipeline/realtime/ml-nothing-1/", {"Record": {}})

    assert response.status_code == 404
    assert response.json()["__type"] == "ResourceNotFoundException"


def test_get_is_not_allowed_and_says_so_in_json(client, run):
    response = client.get(run.endpoint_url)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["message"] == "Send Predict requests with POST, not GET."


def test_a_too_large_body_is_a_json_413(client, run, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post(client, run.endpoint_url, {"Record": {"age": "1" * 2000}})

    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["message"]


def test_the_url_without_its_slash_answers_too(client, run):
    response = post(client, run.endpoint_url.rstrip("/"), {"Record": {}})

    assert response.status_code == 200


def test_booleans_mean_the_same_as_in_training(client, run):
    as_bool = post(client, run.endpoint_url, {"Record": {"age": 50, "married": True}})
    as_one = post(client, run.endpoint_url, {"Record": {"age": "50", "married": "1"}})

    assert as_bool.json() == as_one.json()


def test_a_model_on_another_backend_alias_is_served(
    client, insured_rows, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "other": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "other"},
        },
    }
    settings.MLPIPELINE_BACKENDS = {
        **DEFAULTS["BACKENDS"],
        "other": {
            "BACKEND": "mlpipeline.backends.embedded.EmbeddedBackend",
            "OPTIONS": {"STORAGE": "other"},
        },
    }

    class Elsewhere(InsurancePipeline):
        backend = "other"

    run = learn(Elsewhere())
    response = post(client, run.endpoint_url, {"Record": {"age": "50"}})

    assert response.status_code == 200
    assert (
        tmp_path / "other" / "engine" / "mlmodels" / f"{run.model_id}.json"
    ).exists()


def test_a_new_score_threshold_applies_at_once(client, run):
    body = {"Record": {"age": "40", "married": "no"}}
    first = post(client, run.endpoint_url, body).json()["Prediction"]
    ((_, score),) = first["predictedScores"].items()
    engine = get_backend().client

    engine.update_ml_model(MLModelId=run.model_id, ScoreThreshold=score + 0.01)
    below = post(client, run.endpoint_url, body).json()["Prediction"]
    engine.update_ml_model(MLModelId=run.model_id, ScoreThreshold=score)
    at = post(client, run.endpoint_url, body).json()["Prediction"]

    assert (below["predictedLabel"], at["predictedLabel"]) == ("0", "1")


def test_predictions_reuse_one_backend_per_alias_until_settings_change(settings):
    from mlpipeline.serving import serving_backend

    first = serving_backend("embedded")
    assert serving_backend("embedded") is first

    settings.MLPIPELINE_POLL_DELAY = 1.0

    assert serving_backend("embedded") is not first
