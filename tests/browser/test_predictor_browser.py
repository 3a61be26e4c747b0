"""Sign in and use the predictor page; read a model's evaluation report."""

import pytest
from django.contrib.auth.models import User

from mlpipeline.learn import learn
from mlpipeline.pipeline import site
from project.demo.models import Policy
from project.demo.policies import generate_policies

pytestmark = pytest.mark.django_db(transaction=True)


def test_predictor_page_shows_the_top_three_plans(live_server, page, screenshot):
    rows = list(generate_policies(3000, seed=11))
    Policy.objects.bulk_create(Policy(number=n, plan=p) for n, p in rows)
    run = learn(site.get("policy_plan"))
    User.objects.create_superuser("ada", "ada@example.com", "a long password")

    page.goto(f"{live_server.url}/mlpipeline/predictor/policy_plan/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "a long password")
    page.click("input[type=submit]")
    page.wait_for_selector("#id_number")
    assert run.model_id in page.locator("body").inner_text()
    page.fill("#id_number", rows[0][0])
    page.click("button[type=submit]")
    page.wait_for_selector("#answers")

    labels = page.locator("#answers td.label").all_inner_texts()
    scores = [
        float(text) for text in page.locator("#answers td.score").all_inner_texts()
    ]
    assert len(labels) == 3
    assert scores == sorted(scores, reverse=True)
    assert page.input_value("#id_number") == rows[0][0]
    screenshot("predictor-policy-plan")


def test_evaluation_report_in_the_admin(page, screenshot, sign_in):
    rows = list(generate_policies(3000, seed=11))
    Policy.objects.bulk_create(Policy(number=n, plan=p) for n, p in rows)
    run = learn(site.get("policy_plan"))

    sign_in(f"/admin/mlpipeline/trainedmodel/{run.trained_model.pk}/change/")
    page.wait_for_selector("table.confusion-matrix")

    classes = page.locator("table.confusion-matrix tbody tr").count()
    assert classes == len({plan for _, plan in rows})
    assert "MulticlassAvgFScore" in page.locator("body").inner_text()
    screenshot("admin-evaluation-report")
