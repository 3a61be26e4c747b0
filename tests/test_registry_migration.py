import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from mlpipeline.models import PipelineState, Run, TrainedModel
from mlpipeline.serving import serving_run

pytestmark = pytest.mark.django_db

migration = importlib.import_module("mlpipeline.migrations.0003_import_served_models")


def succeeded(pipeline, minutes_ago, **fields):
    return Run.objects.create(
        pipeline=pipeline,
        backend="embedded",
        status=fields.pop("status", Run.Status.SUCCEEDED),
        model_id=fields.pop("model_id", f"ml-{pipeline}-{minutes_ago}"),
        finished_at=timezone.now() - timezone.timedelta(minutes=minutes_ago),
        metric_name="BinaryAUC",
        metric_value=0.8,
        baseline=0.5,
        **fields,
    )


def test_upgrade_keeps_the_newest_succeeded_run_serving():
    oldest, older, newest = (succeeded("a", m) for m in (30, 20, 10))
    succeeded("a", 5, status=Run.Status.FAILED)
    succeeded("a", 4, model_id="")
    only = succeeded("b", 50)

    migration.import_models(apps, None)

    assert serving_run("a") == newest
    assert serving_run("b") == only
    state = PipelineState.objects.get(name="a")
    assert state.previous_model.run == older
    assert state.version == 1
    assert TrainedModel.objects.filter(pipeline="a").count() == 3
    assert set(TrainedModel.objects.values_list("decision", flat=True)) == {"imported"}
    assert TrainedModel.objects.get(run=oldest).metric_value == 0.8
