import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from mlpipeline import registry
from mlpipeline.models import PipelineState, Run, RunStep, TrainedModel

pytestmark = pytest.mark.django_db

PIPELINES = reverse("admin:mlpipeline_pipelinestate_changelist")
MODELS = reverse("admin:mlpipeline_trainedmodel_changelist")


def trained(metric):
    run = Run.objects.create(
        pipeline="insurance",
        backend="embedded",
        status=Run.Status.SUCCEEDED,
        model_type="BINARY",
        metric_name="BinaryAUC",
        metric_value=metric,
        baseline=0.5,
    )
    run.model_id = f"ml-insurance-{run.pk}"
    run.save()
    return registry.decide(registry.record(run))


@pytest.fixture
def login(client):
    def log_in(*codenames):
        user = User.objects.create_user("ops", password="pw", is_staff=True)
        view = ["view_pipelinestate", "view_trainedmodel"]
        user.user_permissions.set(
            Permission.objects.filter(codename__in=[*view, *codenames])
        )
        client.force_login(user)
        return user

    return log_in


def act(client, url, action, pks):
    return client.post(url, {"action": action, "_selected_action": pks}, follow=True)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_promote_action_is_offered_only_with_the_permission(client, login):
    refused = [trained(0.9), trained(0.7)][1]
    login()

    response = act(client, MODELS, "promote", [refused.pk])

    assert response.context["action_form"] is None  # no action is offered
    refused.refresh_from_db()
    assert refused.decision == TrainedModel.Decision.REFUSED


def test_promote_action_forces_the_model_in_and_logs_who(client, login):
    trained(0.9)
    refused = trained(0.7)
    login("promote_model")

    response = act(client, MODELS, "promote", [refused.pk])

    assert messages_of(response) == [
        f"Pipeline insurance: model {refused.model_id} is active."
    ]
    assert PipelineState.objects.get(name="insurance").active_model == refused
    entry = LogEntry.objects.get()
    assert entry.user.username == "ops"
    assert entry.change_message.startswith("Promoted by hand: Promoted by ops.")


def test_roll_back_action_restores_the_previous_model(client, login):
    old = trained(0.8)
    trained(0.9)
    login("promote_model")
    state = PipelineState.objects.get(name="insurance")

    response = act(client, PIPELINES, "roll_back", [state.pk])

    assert messages_of(response) == [
        f"Pipeline insurance: model {old.model_id} is active again."
    ]
    assert PipelineState.objects.get(name="insurance").active_model == old
    assert LogEntry.objects.get().change_message == (
        f"Rolled back to model {old.model_id}."
    )


def test_roll_back_without_a_previous_model_says_so(client, login):
    trained(0.8)
    login("promote_model")
    state = PipelineState.objects.get(name="insurance")

    response = act(client, PIPELINES, "roll_back", [state.pk])

    assert messages_of(response) == [
        "Pipeline 'insurance' has no previous model to roll back to."
    ]


def test_model_page_shows_the_metric_against_its_baseline(admin_client):
    model = trained(0.8125)

    response = admin_client.get(
        reverse("admin:mlpipeline_trainedmodel_change", args=[model.pk])
    )

    assert response.status_code == 200
    assert "BinaryAUC 0.8125 (baseline 0.5000)" in response.content.decode()


def test_promote_action_refuses_a_model_cleanup_deleted(client, login):
    active = trained(0.9)
    cleaned = trained(0.7)
    RunStep.objects.create(
        run=cleaned.run,
        name="cleanup",
        status=RunStep.Status.SUCCEEDED,
        started_at=cleaned.created_at,
    )
    login("promote_model")

    response = act(client, MODELS, "promote", [cleaned.pk])

    assert messages_of(response) == [
        f"Model {cleaned.model_id} of 'insurance' was deleted by cleanup_models; "
        "promote another model instead, or raise MLPIPELINE_RETENTION to keep "
        "models longer."
    ]
    assert PipelineState.objects.get(name="insurance").active_model == active
