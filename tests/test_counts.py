"""Nothing lost: every run's row counts add up, on every path.

extracted = written + rejected, and written = train + evaluation.
"""

from io import StringIO

import pytest
from django.core.management import call_command

from mlpipeline import LongIdExpander, Pipeline
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.dryrun import dry_run
from mlpipeline.exceptions import DataError
from mlpipeline.learn import learn, resume
from mlpipeline.models import Run
from project.demo.models import Policy

pytestmark = pytest.mark.django_db

BAD_NUMBERS = {17: "A*17", 90: "B?90", 151: "ÇX151"}
#: What the transform says of each bad row; ``{}`` is the row's primary key.
REJECTIONS = [
    "line 19 of the extracted rows (primary key '{}'): number value 'A*17' holds "
    "'*', which is not a base-36 digit (0-9, A-Z)",
    "line 92 of the extracted rows (primary key '{}'): number value 'B?90' holds "
    "'?', which is not a base-36 digit (0-9, A-Z)",
    "line 153 of the extracted rows (primary key '{}'): number value 'ÇX151' "
    "holds 'Ç', which is not a base-36 digit (0-9, A-Z)",
]


class PlanPipeline(Pipeline):
    name = "counted"
    model = Policy
    fields = ["number", "plan"]
    target = "plan"
    expanders = [LongIdExpander("number", digits=8)]
    max_rejected = 0.02


@pytest.fixture(autouse=True)
def declared(registered):
    registered(PlanPipeline)


@pytest.fixture
def policies(db):
    """200 policies; three numbers hold a character no base-36 digit is.

    Return what the transform says of those three rows.
    """
    Policy.objects.bulk_create(
        Policy(number=BAD_NUMBERS.get(i, f"{'AB'[i % 2]}{i:05d}"), plan="ab"[i % 2])
        for i in range(200)
    )
    keys = [Policy.objects.get(number=bad).pk for bad in BAD_NUMBERS.values()]
    return [reason.format(key) for reason, key in zip(REJECTIONS, keys, strict=True)]


def assert_counts_add_up(run, rejections, *, extracted=200, rejected=3):
    run.refresh_from_db()
    assert (run.rows_extracted, run.rows_rejected) == (extracted, rejected)
    assert run.rows_written == extracted - rejected
    assert run.rejections == rejections
    if run.status == Run.Status.SUCCEEDED:
        assert run.rows_train + run.rows_evaluation == run.rows_written
        assert 120 < run.rows_train < 160
    else:
        assert (run.rows_train, run.rows_evaluation) == (None, None)
    run.check_counts()


def test_a_full_run_leaves_rejected_rows_out_and_counts_them(policies):
    run = learn(PlanPipeline())

    assert run.status == Run.Status.SUCCEEDED
    assert_counts_add_up(run, policies)
    transform = run.steps.get(name="transform")
    assert (transform.detail["rows"], transform.detail["rejected"]) == (197, 3)


def test_transform_then_load_keep_the_counts(policies):
    transformed = learn(PlanPipeline(), only="transform")
    assert transformed.status == Run.Status.TRANSFORMED
    assert_counts_add_up(transformed, policies)

    loaded = learn(PlanPipeline(), only="load")

    assert (loaded.pk, loaded.status) == (transformed.pk, Run.Status.SUCCEEDED)
    assert_counts_add_up(loaded, policies)


def test_a_resumed_run_keeps_the_counts(policies, monkeypatch):
    real_wait = EmbeddedBackend.wait

    def dies_once(self, kind, entity_id):
        monkeypatch.setattr(EmbeddedBackend, "wait", real_wait)
        raise RuntimeError("worker died")

    monkeypatch.setattr(EmbeddedBackend, "wait", dies_once)
    with pytest.raises(RuntimeError, match="worker died"):
        learn(PlanPipeline())
    failed = Run.objects.get()
    assert failed.status == Run.Status.FAILED
    Policy.objects.all().delete()

    resumed = resume(failed)

    assert resumed.status == Run.Status.SUCCEEDED
    assert_counts_add_up(resumed, policies)


def test_a_dry_run_counts_as_a_run_does(policies):
    found = dry_run(PlanPipeline())

    assert (found.rows_extracted, found.rows_rejected, found.rows) == (200, 3, 197)
    assert found.rows_train + found.rows_evaluation == 197
    assert not Run.objects.exists()


def test_too_many_rejected_rows_fail_the_run_and_are_recorded(policies):
    strict = type("Strict", (PlanPipeline,), {"max_rejected": 0.01})

    with pytest.raises(DataError) as caught:
        learn(strict())

    assert str(caught.value) == (
        "Pipeline 'counted' rejected 3 of 200 extracted rows (1.5%), more than its "
        f"max_rejected (1.0%) allows; first: {'; '.join(policies)}. Fix those "
        "values, or raise max_rejected to leave such rows out."
    )
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert_counts_add_up(run, policies)


def test_counts_that_do_not_add_up_are_refused(policies):
    run = learn(PlanPipeline())
    run.rows_rejected = 2

    with pytest.raises(DataError) as caught:
        run.check_counts()

    assert str(caught.value) == (
        f"Pipeline 'counted' run {run.pk}: 200 rows were extracted, but 197 "
        "written and 2 rejected."
    )
    run.rows_rejected, run.rows_train = 3, run.rows_train + 1
    with pytest.raises(DataError, match=r"the data sources hold \d+ \+ \d+ rows, bu"):
        run.check_counts()


def test_learn_prints_the_rejected_rows(policies):
    out = StringIO()

    call_command("learn", "counted", stdout=out)

    run = Run.objects.get()
    assert out.getvalue() == (
        f"counted: MULTICLASS model {run.model_id} MulticlassAvgFScore "
        f"{run.metric_value:.4f} (baseline {run.baseline:.4f}); rows 200 = 3 "
        f"rejected + {run.rows_train} train + {run.rows_evaluation} evaluation; "
        f"predictions at {run.endpoint_url}\n"
    )
