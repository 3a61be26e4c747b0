"""Put a run's model into service the way a finished run does."""

from mlpipeline import registry
from mlpipeline.models import Run


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
