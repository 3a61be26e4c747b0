import threading

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.db import connection

from mlpipeline import Pipeline, registry
from mlpipeline.exceptions import RegistryError, RunNotFound
from mlpipeline.learn import learn
from mlpipeline.models import PipelineState, Run, RunStep, TrainedModel
from mlpipeline.serving import ModelCache, predict, serving_run
from mlpipeline.signals import model_promoted, model_refused, model_rolled_back
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


RULE = {"method": "sha256(seed|pk)", "seed": "insurance", "train_percent": 70}


def trained(
    metric, *, name="BinaryAUC", baseline=0.5, pipeline="insurance", split=None
):
    """Return a registered model with this metric, as a finished run leaves.

    ``split`` is the rule that chose its evaluation rows; by default none is
    recorded, as for runs made before the split by primary key.
    """
    run = Run.objects.create(
        pipeline=pipeline,
        backend="embedded",
        status=Run.Status.SUCCEEDED,
        model_type="BINARY",
        metric_name=name,
        metric_value=metric,
        baseline=baseline,
        split=split or {},
    )
    run.model_id = f"ml-{pipeline}-{run.pk}"
    run.save()
    return registry.record(run)


@pytest.fixture
def sent():
    """Collect the registry's signals as (signal name, arguments)."""
    received = []
    signals = {
        "promoted": model_promoted,
        "refused": model_refused,
        "rolled_back": model_rolled_back,
    }
    handlers = {}
    for name, signal in signals.items():

        def handler(sender, signal_name=name, **kwargs):
            kwargs.pop("signal")
            received.append((signal_name, kwargs))

        handlers[name] = handler
        signal.connect(handler)
    yield received
    for name, signal in signals.items():
        signal.disconnect(handlers[name])


def user_with(*codenames):
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def test_first_model_beating_its_baseline_is_promoted(
    sent, django_capture_on_commit_callbacks
):
    model = trained(0.8)

    with django_capture_on_commit_callbacks(execute=True):
        registry.decide(model)

    state = PipelineState.objects.get(name="insurance")
    assert state.active_model == model
    assert state.previous_model is None
    assert state.version == 1
    assert model.decision == TrainedModel.Decision.PROMOTED
    assert model.decision_reason == (
        "BinaryAUC 0.8000 beats the baseline 0.5000; no model was active."
    )
    assert sent == [("promoted", {"model": model, "previous": None, "forced_by": ""})]


def test_worse_model_is_refused_and_the_refusal_recorded(
    sent, django_capture_on_commit_callbacks
):
    active = registry.decide(trained(0.9))
    worse = trained(0.85)

    with django_capture_on_commit_callbacks(execute=True):
        registry.decide(worse)

    worse.refresh_from_db()
    assert worse.decision == TrainedModel.Decision.REFUSED
    assert worse.decision_reason == (
        f"BinaryAUC 0.8500 falls short of the active model {active.model_id}'s "
        "0.9000 by more than the 1.0% margin (0.0090)."
    )
    assert (worse.metric_value, worse.compared_with) == (0.85, 0.9)
    assert PipelineState.objects.get(name="insurance").active_model == active
    assert sent == [
        (
            "refused",
            {"model": worse, "reason": worse.decision_reason, "active": active},
        )
    ]


def test_model_not_beating_its_baseline_is_refused_even_with_none_active():
    model = registry.decide(trained(0.5))

    assert model.decision == TrainedModel.Decision.REFUSED
    assert model.decision_reason == (
        "BinaryAUC 0.5000 does not beat the baseline 0.5000."
    )
    with pytest.raises(RunNotFound, match="'insurance' has no active model yet"):
        serving_run("insurance")


def test_slightly_worse_model_within_the_margin_is_promoted(settings):
    settings.MLPIPELINE_PROMOTION_MARGIN = 0.05
    active = registry.decide(trained(0.9))

    model = registry.decide(trained(0.86))

    assert model.decision == TrainedModel.Decision.PROMOTED
    state = PipelineState.objects.get(name="insurance")
    assert (state.active_model, state.previous_model) == (model, active)
    assert state.version == 2


@pytest.mark.parametrize(
    ("value", "promoted"), [(9.0, True), (10.05, True), (10.2, False), (13.0, False)]
)
def test_lower_rmse_is_better(value, promoted):
    active = registry.decide(trained(10.0, name="RegressionRMSE", baseline=12.5))

    model = registry.decide(trained(value, name="RegressionRMSE", baseline=12.5))

    assert (model.decision == TrainedModel.Decision.PROMOTED) is promoted
    expected = model if promoted else active
    assert PipelineState.objects.get(name="insurance").active_model == expected


def test_models_split_by_the_same_rule_are_compared_without_a_note():
    active = registry.decide(trained(0.9, split=RULE))

    model = registry.decide(trained(0.905, split=RULE))

    assert model.split == RULE
    assert model.decision_reason == (
        "BinaryAUC 0.9050 beats the baseline 0.5000, against the active model "
        f"{active.model_id}'s 0.9000 (margin 1.0%)."
    )


def test_a_model_split_by_another_rule_is_compared_with_a_note():
    active = registry.decide(trained(0.9, split=RULE))

    model = registry.decide(trained(0.95, split={**RULE, "seed": "other"}))

    assert model.decision == TrainedModel.Decision.PROMOTED
    assert model.decision_reason == (
        "BinaryAUC 0.9500 beats the baseline 0.5000, against the active model "
        f"{active.model_id}'s 0.9000 (margin 1.0%). The two were scored on "
        "different evaluation rows: this model's were chosen by sha256(seed|pk) "
        "with seed 'other' and 70 % training rows, the active model's by "
        "sha256(seed|pk) with seed 'insurance' and 70 % training rows."
    )


def test_a_model_from_before_the_split_by_key_is_still_compared():
    """A much worse model is refused, though its rows were chosen otherwise."""
    active = registry.decide(trained(0.9))

    model = registry.decide(trained(0.7, split=RULE))

    assert model.decision == TrainedModel.Decision.REFUSED
    assert model.decision_reason == (
        f"BinaryAUC 0.7000 falls short of the active model {active.model_id}'s "
        "0.9000 by more than the 1.0% margin (0.0090). The two were scored on "
        "different evaluation rows: this model's were chosen by sha256(seed|pk) "
        "with seed 'insurance' and 70 % training rows, the active model's by a "
        "seeded random split of the file's byte offsets (runs made before the "
        "split by primary key)."
    )


def test_a_switch_stamps_when_the_replaced_model_stopped():
    old = registry.decide(trained(0.8))
    assert old.deactivated_at is None
    new = registry.decide(trained(0.9))

    old.refresh_from_db()
    assert old.deactivated_at == new.activated_at
    assert new.deactivated_at is None

    registry.rollback("insurance")

    old.refresh_from_db()
    new.refresh_from_db()
    assert new.deactivated_at == old.activated_at
    assert old.activated_at > new.activated_at


def test_rollback_restores_the_previous_model_and_a_second_undoes_it(
    sent, django_capture_on_commit_callbacks
):
    old = registry.decide(trained(0.8))
    new = registry.decide(trained(0.9))

    with django_capture_on_commit_callbacks(execute=True):
        restored = registry.rollback("insurance")

    state = PipelineState.objects.get(name="insurance")
    assert restored == old
    assert (state.active_model, state.previous_model) == (old, new)
    assert state.version == 3
    assert serving_run("insurance") == old.run
    assert sent == [("rolled_back", {"model": old, "replaced": new, "user": ""})]
    registry.rollback("insurance")
    assert PipelineState.objects.get(name="insurance").active_model == new


def test_rollback_without_a_previous_model_says_so():
    registry.decide(trained(0.8))

    with pytest.raises(
        RegistryError, match=r"^Pipeline 'insurance' has no previous model to roll"
    ):
        registry.rollback("insurance")


def test_rollback_to_a_cleaned_model_is_refused():
    old = registry.decide(trained(0.8))
    registry.decide(trained(0.9))
    RunStep.objects.create(
        run=old.run,
        name="cleanup",
        status=RunStep.Status.SUCCEEDED,
        started_at=old.created_at,
    )

    with pytest.raises(RegistryError, match="was deleted by cleanup_models"):
        registry.rollback("insurance")


def test_forced_promotion_needs_the_permission():
    registry.decide(trained(0.9))
    refused = registry.decide(trained(0.7))

    with pytest.raises(PermissionDenied, match="'ops' may not promote models"):
        registry.force_promote(refused, user_with())


def test_forced_promotion_records_who_and_what_the_gate_said(
    sent, django_capture_on_commit_callbacks
):
    active = registry.decide(trained(0.9))
    refused = registry.decide(trained(0.7))
    gate = refused.decision_reason

    with django_capture_on_commit_callbacks(execute=True):
        registry.force_promote(refused, user_with("promote_model"))

    refused.refresh_from_db()
    assert refused.decision == TrainedModel.Decision.FORCED
    assert refused.decided_by == "ops"
    assert refused.decision_reason == f"Promoted by ops. The gate had said: {gate}"
    state = PipelineState.objects.get(name="insurance")
    assert (state.active_model, state.previous_model) == (refused, active)
    assert sent == [
        ("promoted", {"model": refused, "previous": active, "forced_by": "ops"})
    ]


def test_learn_promotes_its_model_then_refuses_a_worse_one(insured_rows):
    first = learn(InsurancePipeline())
    # A target unrelated to the attributes leaves nothing to learn.
    for index, person in enumerate(Insured.objects.order_by("pk")):
        person.insurance = index % 2 == 0
        person.save(update_fields=["insurance"])

    second = learn(InsurancePipeline())

    assert second.status == Run.Status.SUCCEEDED
    assert first.trained_model.decision == TrainedModel.Decision.PROMOTED
    model = TrainedModel.objects.get(run=second)
    assert model.decision == TrainedModel.Decision.REFUSED
    assert model.compared_with == first.metric_value
    assert model.model_id == second.model_id
    assert model.rows_train + model.rows_evaluation == 400
    assert model.split == second.split == RULE
    assert set(model.statistics) == {"train", "evaluation"}
    assert model.entity_ids == {
        "train_datasource": f"ds-insurance-{second.pk}-{second.token}-train",
        "evaluation_datasource": f"ds-insurance-{second.pk}-{second.token}-evaluation",
        "evaluation": f"ev-insurance-{second.pk}-{second.token}",
    }
    assert {"python", "django", "numpy"} <= set(model.library_versions)
    assert serving_run("insurance") == first


@pytest.mark.django_db(transaction=True)
def test_two_caches_in_two_threads_answer_with_the_new_model_after_a_switch(
    insured_rows,
):
    old = learn(InsurancePipeline()).trained_model
    new = registry.record(learn(InsurancePipeline()))
    # Whatever the gate thought of it, make the new model the active one.
    TrainedModel.objects.filter(pk=new.pk).update(decision="")
    new.refresh_from_db()
    PipelineState.objects.filter(name="insurance").update(
        active_model=old, previous_model=None
    )
    record = {"age": 61, "married": True}
    caches = [ModelCache(), ModelCache()]
    seen = {}

    def ask(cache, key):
        try:
            seen[key] = (
                cache.active("insurance").model_id,
                predict("insurance", record, cache=cache),
            )
        finally:
            connection.close()

    def in_threads(step):
        threads = [
            threading.Thread(target=ask, args=(cache, (step, number)))
            for number, cache in enumerate(caches)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    in_threads("before")
    user = user_with("promote_model")
    registry.force_promote(new, user)
    in_threads("after")

    assert [seen["before", n][0] for n in (0, 1)] == [old.model_id] * 2
    assert [seen["after", n][0] for n in (0, 1)] == [new.model_id] * 2
    expected = (
        caches[0]
        .predictor("embedded", new.model_id)
        .predict({"age": "61", "married": "1"}, score_threshold=0.5)
    )
    assert seen["after", 0][1] == seen["after", 1][1] == expected
