import pytest
from django.contrib.auth.models import Permission, User

from mlpipeline.learn import learn
from mlpipeline.pipeline import site
from mlpipeline.schema import layout_for
from mlpipeline.serving import predict
from mlpipeline.transform import expand_row
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
    assert response["Location"] == f"/admin/login/?next={URL}"


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
    features = {"number": number, "plan": ""}
    expected = predict("policy_plan", _features(features), top=3)["topLabels"]
    assert [answer["label"] for answer in answers] == [
        item["label"] for item in expected
    ]


def _features(row):
    layout = layout_for(site.get("policy_plan"))
    cells = [row[name] for name in layout.columns]
    record = dict(zip(layout.attribute_names, expand_row(layout, cells), strict=True))
    record.pop(layout.target)
    return record
