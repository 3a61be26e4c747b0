"""Sign in to the admin in Chromium, retrain a pipeline, see its run."""

import pytest
from django.contrib.auth.models import User

from mlpipeline.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def test_retrain_now_from_the_admin(live_server, page, screenshot, insured_rows):
    User.objects.create_superuser("ada", "ada@example.com", "a long password")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/mlpipeline/pipelinestate/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "a long password")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    row = page.locator("#result_list tr", has_text="health_insurance")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "retrain_now")
    page.click("button[name=index]")

    message = page.locator("ul.messagelist li").first.text_content().strip()
    run = Run.objects.get()
    # The admin capitalises a message's first letter, so it starts with a word.
    assert message == f"Pipeline health_insurance: queued run {run.pk}."
    screenshot("admin-retrain-now")

    page.goto(f"{live_server.url}/admin/mlpipeline/run/")
    listed = page.locator("#result_list tbody tr").first.inner_text()
    assert "health_insurance" in listed
    assert "Succeeded" in listed
    assert "Admin action" in listed
    screenshot("admin-runs")
