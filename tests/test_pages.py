import pytest
from django.contrib.auth.models import Permission, User

from mlpipeline.exceptions import InvalidRecord
from mlpipeline.learn import learn
from mlpipeline.pipeline import site
from mlpipeline.schema import layout_for
from mlpipeline.serving import predict, record_features
from project.demo.models import Policy
from project.demo.policies import generate_policies

pytestmark = pytest.mark.django_db

URL = "/mlpipeline/predictor/policy_plan/"


@pytest.fixture
def policies(db):
    rows = list(generate_policies(3000, seed=11))
    Policy.objects.bulk_create(Policy(number=n, plan=p) for n, p in rows)
    learn(site.get("policy_plan"))
    return rows


def reader(client, *codenames):
    user = User.objects.create_user("reader", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={URL}"


def test_the_page_needs_the_predict_permission(client):
    reader(client)

    assert client.get(URL).status_code == 403


def test_the_form_asks_for_the_policy_number_only(client, policies):
    reader(client, "predict")

    response = client.get(URL)

    assert [field["name"] for field in response.context["fields"]] == ["number"]


def test_a_number_gets_the_top_three_plans_with_their_scores(client, policies):
    reader(client, "predict")
    number = policies[0][0]

    response = client.post(URL, {"number": number})

    answers = response.context["answers"]
    assert len(answers) == 3
    scores = [answer["score"] for answer in answers]
    assert scores == sorted(scores, reverse=True)
    expected = predict("policy_plan", {"number": number}, top=3)["topLabels"]
    assert [answer["label"] for answer in answers] == [
        item["label"] for item in expected
    ]


def _of_two_plans(policies):
    """Return two policies of different insurers: the number tells the plan."""
    first = policies[0]
    second = next(row for row in policies if row[1][:4] != first[1][:4])
    return first, second


def test_api_page_and_predict_expand_numbers_alike_and_answer_their_plans(
    client, policies, settings
):
    settings.MLPIPELINE_API_TOKENS = ["tok-pages"]
    reader(client, "predict")
    for number, plan in _of_two_plans(policies):
        response = client.post(
            "/mlpipeline/predict/policy_plan/",
            {"Record": {"number": number}, "Top": 3},
            content_type="application/json",
            headers={"Authorization": "Bearer tok-pages"},
        )
        page = client.post(URL, {"number": number})

        assert response.status_code == 200
        prediction = response.json()["Prediction"]
        assert prediction["predictedLabel"] == plan
        assert prediction == predict("policy_plan", {"number": number}, top=3)
        assert [a["label"] for a in page.context["answers"]] == [
            a["label"] for a in prediction["topLabels"]
        ]


@pytest.mark.parametrize(
    "number, char",
    [("!!!@@@", "!"), ("\N{GRINNING FACE}", "\N{GRINNING FACE}")],
    ids=["punctuation", "emoji"],
)
def test_a_number_the_expander_rejects_is_a_400_naming_it(
    client, policies, settings, number, char
):
    settings.MLPIPELINE_API_TOKENS = ["tok-pages"]
    response = client.post(
        "/mlpipeline/predict/policy_plan/",
        {"Record": {"number": number}},
        content_type="application/json",
        headers={"Authorization": "Bearer tok-pages"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "__type": "InvalidInputException",
        "message": f"Record attribute 'number' holds {number!r}, which its "
        f"LongIdExpander rejects: number value {number!r} holds {char!r}, which "
        "is not a base-36 digit (0-9, A-Z).",
    }


@pytest.mark.parametrize("number", ["9" * 40, "Z" * 60, "!!!@@@", "\N{GRINNING FACE}"])
def test_the_page_shows_a_rejected_number_beside_its_field(client, policies, number):
    reader(client, "predict")

    response = client.post(URL, {"number": number})

    assert response.status_code == 200
    (field,) = response.context["fields"]
    assert field["value"] == number
    assert field["error"].startswith(
        f"Record attribute 'number' holds {number!r}, which its LongIdExpander "
        "rejects: "
    )
    assert "answers" not in response.context
    assert b'id="error_number"' in response.content


def test_a_date_that_is_not_iso_is_rejected_naming_the_attribute():
    layout = layout_for(site.get("hotel_rate"))

    with pytest.raises(InvalidRecord) as raised:
        record_features(layout, {"arrival_date": "notadate", "adults": 2})

    assert (raised.value.attribute, raised.value.value) == ("arrival_date", "notadate")
    assert str(raised.value) == (
        "Record attribute 'arrival_date' holds 'notadate', which its "
        "DatePartsExpander rejects: arrival_date value 'notadate' is not an ISO "
        "date (YYYY-MM-DD)."
    )
    features = record_features(layout, {"arrival_date": "2024-03-05", "adults": 2})
    assert features["arrival_date_year"] == "2024"
    assert features["arrival_date_weekday"] == "2"
    assert features["adults"] == "2"


def test_a_user_who_is_not_staff_signs_in_and_sees_a_prediction(client, policies):
    user = User.objects.create_user("clerk", password="a long password")
    user.user_permissions.set(Permission.objects.filter(codename="predict"))
    assert not user.is_staff

    signed_in = client.post(
        "/accounts/login/",
        {"username": "clerk", "password": "a long password", "next": URL},
    )
    assert (signed_in.status_code, signed_in["Location"]) == (302, URL)
    response = client.post(URL, {"number": policies[0][0]})

    assert response.status_code == 200
    assert len(response.context["answers"]) == 3
    assert response.context["answers"][0]["label"] == policies[0][1]


def test_the_sign_in_page_says_when_the_password_is_wrong(client, db):
    User.objects.create_user("clerk", password="a long password")

    response = client.post(
        "/accounts/login/", {"username": "clerk", "password": "wrong", "next": URL}
    )

    assert response.status_code == 200
    assert b'id="error"' in response.content
    assert b"Please enter a correct username and password." in response.content


def test_a_date_that_is_not_iso_is_shown_beside_its_field(client, db):
    reader(client, "predict")

    response = client.post(
        "/mlpipeline/predictor/hotel_rate/", {"arrival_date": "notadate"}
    )

    assert response.status_code == 200
    (field,) = [f for f in response.context["fields"] if f.get("error")]
    assert (field["name"], field["value"]) == ("arrival_date", "notadate")
    assert field["error"] == (
        "Record attribute 'arrival_date' holds 'notadate', which its "
        "DatePartsExpander rejects: arrival_date value 'notadate' is not an ISO "
        "date (YYYY-MM-DD)."
    )


def test_the_openapi_example_gets_a_prediction(client, policies, settings):
    settings.MLPIPELINE_API_TOKENS = ["tok-pages"]
    document = client.get("/mlpipeline/openapi.json").json()
    operation = document["paths"]["/predict/{pipeline}/"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]

    response = client.post(
        "/mlpipeline/predict/policy_plan/",
        example,
        content_type="application/json",
        headers={"Authorization": "Bearer tok-pages"},
    )

    assert response.status_code == 200
    prediction = response.json()["Prediction"]
    assert prediction == predict("policy_plan", {"number": "PX00427731"}, top=3)
    assert len(prediction["topLabels"]) == 3
