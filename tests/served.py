"""Put a run's model into service the way a finished run does."""

import datetime

from django.utils import timezone

from mlpipeline import registry
from mlpipeline.models import Run, TrainedModel


def serve(run: Run, metric: float = 0.8) -> Run:
    """Record ``run``'s model and let the gate promote it; return the run.

    Runs made by hand have no evaluation, so they get a BinaryAUC of
    ``metric`` against a baseline of 0.5 unless they carry their own.
    """
    if run.metric_value is None:
        run.metric_name, run.metric_value, run.baseline = "BinaryAUC", metric, 0.5
        run.save()
    registry.decide(registry.record(run))
    return run


def backdate(run: Run, days: float) -> Run:
    """Move the end of ``run`` ``days`` back: its finish and its switch.

    The run's finish, its model's decision and activation, and the
    deactivation of the model it replaced (one stamped since the run
    started) all happen ``days`` ago instead of now.
    """
    moment = timezone.now() - datetime.timedelta(days=days)
    TrainedModel.objects.filter(deactivated_at__gte=run.started_at).exclude(
        run=run
    ).update(deactivated_at=moment)
    TrainedModel.objects.filter(run=run).update(decided_at=moment)
    TrainedModel.objects.filter(run=run, activated_at__isnull=False).update(
        activated_at=moment
    )
    run.finished_at = moment
    run.save()
    return run
