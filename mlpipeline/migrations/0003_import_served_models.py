"""Register the models that runs trained before the registry existed.

Each pipeline's newest succeeded run was its serving model; it becomes the
active model and the one before it the previous model, so serving carries
on unchanged after the upgrade.
"""

from django.db import migrations


def import_models(apps, schema_editor):
    Run = apps.get_model("mlpipeline", "Run")
    PipelineState = apps.get_model("mlpipeline", "PipelineState")
    TrainedModel = apps.get_model("mlpipeline", "TrainedModel")
    runs = (
        Run.objects.filter(status="succeeded")
        .exclude(model_id="")
        .order_by("pipeline", "-finished_at", "-pk")
    )
    newest = {}
    for run in runs:
        model = TrainedModel.objects.create(
            run=run,
            pipeline=run.pipeline,
            backend=run.backend,
            model_type=run.model_type,
            model_id=run.model_id,
            endpoint_url=run.endpoint_url,
            schema=run.schema,
            parameters=run.parameters,
            rows_written=run.rows_written,
            rows_train=run.rows_train,
            rows_evaluation=run.rows_evaluation,
            metric_name=run.metric_name,
            metric_value=run.metric_value,
            baseline=run.baseline,
            evaluation=run.evaluation,
            trained_at=run.finished_at,
            decision="imported",
            decision_reason="Served before the registry existed.",
        )
        newest.setdefault(run.pipeline, []).append(model)
    for pipeline, models in newest.items():
        state, _ = PipelineState.objects.get_or_create(name=pipeline)
        state.active_model = models[0]
        state.previous_model = models[1] if len(models) > 1 else None
        state.version += 1
        state.save()


class Migration(migrations.Migration):
    dependencies = [("mlpipeline", "0002_registry")]

    operations = [migrations.RunPython(import_models, migrations.RunPython.noop)]
