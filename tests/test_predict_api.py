import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from mlpipeline.learn import learn
from mlpipeline.serving import predict, top_labels
from tests.insurance import InsurancePipeline

pytestmark = pytest.mark.django_db

URL = "/mlpipeline/predict/insurance/"
TOKEN = "s3cret-token"


@pytest.fixture
def run(insured_rows, settings):
    settings.MLPIPELINE_API_TOKENS = [TOKEN]
    return learn(InsurancePipeline())


def ask(client, body, token=TOKEN, url=URL):
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, data, content_type="application/json", headers=headers)


def test_a_token_gets_the_active_models_prediction_with_top_labels(client, run):
    response = ask(client, {"Record": {"age": 61, "married": "1"}, "Top": 2})

    assert response.status_code == 200
    prediction = response.json()["Prediction"]
    assert prediction == predict("insurance", {"age": 61, "married": "1"}, top=2)
    ((label, _),) = prediction["predictedScores"].items()
    assert prediction["topLabels"][0]["label"] == label
    assert {item["label"] for item in prediction["topLabels"]} == {"0", "1"}
    assert sum(item["score"] for item in prediction["topLabels"]) == pytest.approx(1)


def test_without_credentials_the_answer_is_a_401_asking_for_them(client, run):
    response = ask(client, {"Record": {}}, token="")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="mlpipeline"'
    assert response.json() == {
        "__type": "UnauthorizedException",
        "message": "Send a token ('Authorization: Bearer <token>') or sign in.",
    }


def test_a_wrong_token_is_a_401(client, run):
    response = ask(client, {"Record": {}}, token="guess")

    assert response.status_code == 401
    assert "no token of MLPIPELINE_API_TOKENS" in response.json()["message"]


def test_a_signed_in_user_needs_the_predict_permission(client, run):
    user = User.objects.create_user("reader", password="pw")
    client.force_login(user)

    refused = ask(client, {"Record": {}}, token="")
    user.user_permissions.add(Permission.objects.get(codename="predict"))
    answered = ask(client, {"Record": {}}, token="")

    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "User 'reader' may not predict; grant the permission mlpipeline.predict."
    )
    assert answered.status_code == 200


def test_a_session_caller_must_pass_the_csrf_check(run):
    user = User.objects.create_user("reader", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="predict"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = ask(client, {"Record": {}}, token="")

    assert response.status_code == 403
    assert response.json()["message"].startswith("CSRF check failed;")


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"shoe_size": "44"},
        {"gender": "robot"},
        {"age": "old"},
        {"age": None},
        {"married": "perhaps"},
    ],
    ids=["empty", "unknown", "unseen-category", "wrong-type", "null", "bad-binary"],
)
def test_unusable_attributes_count_as_missing(client, run, record):
    response = ask(client, {"Record": record})

    assert response.status_code == 200
    assert response.json() == ask(client, {"Record": {}}).json()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("{not json", 400, "The request body is not JSON: Expecting property name"),
        ({"record": {}}, 400, 'a JSON object with a "Record" object'),
        ({"Record": {"age": [61]}}, 400, "Record attribute 'age' holds list"),
        ({"Record": {"gender": {"a": 1}}}, 400, "Record attribute 'gender' holds"),
        ({"Record": {}, "Top": "3"}, 400, 'Top is "3"; send a whole number'),
        ({"Record": {}, "Top": 0}, 400, "Top is 0; send a whole number"),
        ({"Record": {}, "Top": True}, 400, "Top is true; send a whole number"),
    ],
)
def test_malformed_requests_get_a_400_that_says_why(client, run, body, status, message):
    response = ask(client, body)

    assert response.status_code == status
    assert response.json()["__type"] == "InvalidInputException"
    assert message in response.json()["message"]


def test_get_is_a_405(client, run):
    response = client.get(URL, headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_pipeline_without_an_active_model_is_a_404(client, run):
    response = ask(client, {"Record": {}}, url="/mlpipeline/predict/nothing/")

    assert response.status_code == 404
    assert response.json() == {
        "__type": "ResourceNotFoundException",
        "message": "Pipeline 'nothing' has no active model yet; run "
        "'manage.py learn nothing'.",
    }


def test_top_labels_rank_multiclass_scores_best_first_ties_by_label():
    prediction = {"predictedScores": {"b": 0.25, "a": 0.25, "c": 0.5}}

    assert top_labels(prediction, "MULTICLASS") == [
        {"label": "c", "score": 0.5},
        {"label": "a", "score": 0.25},
        {"label": "b", "score": 0.25},
    ]


def test_top_labels_of_a_regression_are_empty():
    assert top_labels({"predictedValue": 3.5}, "REGRESSION") == []


def test_predict_refuses_a_top_outside_1_to_100(run):
    with pytest.raises(ValueError, match="top must be a whole number from 1 to 100"):
        predict("insurance", {}, top=0)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_openapi_description_is_served_and_its_references_resolve(client):
    response = client.get("/mlpipeline/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.0.3"
    operation = document["paths"]["/predict/{pipeline}/"]["post"]
    assert sorted(operation["responses"]) == [
        "200", "400", "401", "403", "404", "413", "502",
    ]  # fmt: skip
    assert document["servers"] == [{"url": "/mlpipeline"}]
    for ref in _refs(document):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_realtime_endpoints_take_a_token_without_csrf(run):
    client = Client(enforce_csrf_checks=True)

    response = ask(client, {"Record": {}}, url=run.endpoint_url)

    assert response.status_code == 200
    assert set(response.json()["Prediction"]) == {
        "predictedLabel",
        "predictedScores",
        "details",
    }
