"""The benchmark's pipelines over :class:`BenchPolicy`."""

from benchmarks.models import BenchPolicy
from mlpipeline import LongIdExpander, Pipeline, register


@register
class BenchPolicyPipeline(Pipeline):
    """A policy's plan from its number and issue date (MULTICLASS)."""

    name = "bench_policy"
    model = BenchPolicy
    fields = ["number", "plan", "issued_on"]
    target = "plan"
    expanders = [LongIdExpander("number", digits=20)]


class BenchExtractPipeline(Pipeline):
    """All four columns, for the extract stage alone (never learned).

    The extracted file starts with the primary key, so the fields name the
    other three; the file then holds what the references read.
    """

    name = "bench_extract"
    model = BenchPolicy
    fields = ["number", "plan", "issued_on"]
    target = "plan"
