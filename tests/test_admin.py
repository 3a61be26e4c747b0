import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from mlpipeline import lock
from mlpipeline.models import PipelineState, Run

pytestmark = pytest.mark.django_db

PIPELINES = reverse("admin:mlpipeline_pipelinestate_changelist")
RUNS = reverse("admin:mlpipeline_run_changelist")


@pytest.fixture
def staff(client):
    """Log in a staff user with the given permissions of mlpipeline."""

    def login(*codenames):
        user = User.objects.create_user("staff", password="pw", is_staff=True)
        view = ["view_pipelinestate", "view_run"]
        user.user_permissions.set(
            Permission.objects.filter(codename__in=[*view, *codenames])
        )
        client.force_login(user)
        return user

    return login


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """Post an admin action, running what it queues after commit."""

    def post(client, url, action, pks):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                url, {"action": action, "_selected_action": pks}, follow=True
            )

    return post


def test_pipelines_page_lists_every_declared_pipeline(admin_client):
    response = admin_client.get(PIPELINES)

    assert response.status_code == 200
    names = set(PipelineState.objects.values_list("name", flat=True))
    assert names == {"customer_type", "health_insurance", "hotel_rate", "policy_plan"}
    assert b"Mon 04:00" not in response.content
    assert b"weekly: Sun 04:00 Europe/London" in response.content


def test_retrain_now_queues_a_run_and_says_so(
    admin_client, admin_user, insured_rows, act
):
    admin_client.get(PIPELINES)
    state = PipelineState.objects.get(name="health_insurance")

    response = act(admin_client, PIPELINES, "retrain_now", [state.pk])

    run = Run.objects.get()
    assert (run.trigger, run.requested_by, run.status) == (
        "admin",
        "admin",
        "succeeded",
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [f"Pipeline health_insurance: queued run {run.pk}."]


def test_retrain_now_needs_its_permission(client, staff, insured_rows, act):
    staff()
    client.get(PIPELINES)
    state = PipelineState.objects.get(name="health_insurance")

    response = act(client, PIPELINES, "retrain_now", [state.pk])

    assert not Run.objects.exists()
    assert b"Retrain now" not in client.get(PIPELINES).content
    assert response.status_code == 200


def test_retrain_now_with_permission(client, staff, insured_rows, act):
    staff("run_pipeline")
    client.get(PIPELINES)
    state = PipelineState.objects.get(name="health_insurance")

    act(client, PIPELINES, "retrain_now", [state.pk])

    assert Run.objects.get().requested_by == "staff"


def test_retrain_during_a_run_is_skipped(admin_client, insured_rows, act):
    admin_client.get(PIPELINES)
    busy = Run.objects.create(
        pipeline="health_insurance", backend="embedded", status="running"
    )
    lock.acquire(busy)
    state = PipelineState.objects.get(name="health_insurance")

    response = act(admin_client, PIPELINES, "retrain_now", [state.pk])

    assert Run.objects.count() == 1
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        f"Pipeline health_insurance: run {busy.pk} is already running; this "
        "request was skipped and recorded on it."
    ]


def test_resume_needs_its_permission_and_a_failed_run(client, staff, insured_rows, act):
    failed = Run.objects.create(
        pipeline="health_insurance", backend="embedded", status="failed"
    )
    done = Run.objects.create(
        pipeline="health_insurance", backend="embedded", status="succeeded"
    )
    staff()
    act(client, RUNS, "resume", [failed.pk])
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert failed.events == []

    client.logout()
    staff_user = User.objects.get(username="staff")
    staff_user.user_permissions.add(Permission.objects.get(codename="resume_run"))
    client.force_login(staff_user)
    response = act(client, RUNS, "resume", [failed.pk, done.pk])

    failed.refresh_from_db()
    assert failed.status == "succeeded"
    messages = {str(m) for m in response.context["messages"]}
    assert messages == {
        f"Run {done.pk} is succeeded; only failed runs resume.",
        f"Run {failed.pk}: resume queued.",
    }
