from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mlpipeline import Pipeline
from mlpipeline.models import Run
from project.demo.models import Insured

pytestmark = pytest.mark.django_db


class InsurancePipeline(Pipeline):
    name = "cmd_insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


class EmptyPipeline(InsurancePipeline):
    name = "cmd_empty"

    def get_queryset(self):
        return Insured.objects.none()


def run_learn(*args, **options):
    out, err = StringIO(), StringIO()
    call_command("learn", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_learn_prints_model_metric_rows_and_url(registered, insured_rows):
    registered(InsurancePipeline)

    out, _ = run_learn("cmd_insurance")

    run = Run.objects.get()
    assert out == (
        f"cmd_insurance: BINARY model {run.model_id} BinaryAUC "
        f"{run.metric_value:.4f} (baseline 0.5000); rows 400 = {run.rows_train} "
        f"train + {run.rows_evaluation} evaluation; predictions at "
        f"{run.endpoint_url}\n"
    )


def test_verbosity_zero_prints_nothing(registered, insured_rows):
    registered(InsurancePipeline)

    assert run_learn("cmd_insurance", verbosity=0) == ("", "")


def test_verbosity_three_shows_progress(registered, insured_rows):
    registered(InsurancePipeline)

    out, _ = run_learn("cmd_insurance", verbosity=3)

    assert "cmd_insurance: starting\ncmd_insurance: extract 400\n" in out


def test_failing_pipeline_is_reported_and_the_others_still_run(
    registered, insured_rows
):
    registered(InsurancePipeline, EmptyPipeline)

    with pytest.raises(CommandError, match="Failed: cmd_empty") as caught:
        run_learn("cmd_empty", "cmd_insurance")

    assert caught.value.returncode == 2
    assert Run.objects.get(pipeline="cmd_insurance").status == Run.Status.SUCCEEDED
    assert Run.objects.get(pipeline="cmd_empty").status == Run.Status.FAILED


def test_unknown_pipeline_names_the_declared_ones(registered):
    registered(InsurancePipeline)

    with pytest.raises(CommandError, match="No pipeline is named 'nope'; declared"):
        run_learn("nope")


def test_only_transform_then_only_load(registered, insured_rows):
    registered(InsurancePipeline)

    out, _ = run_learn("cmd_insurance", only="transform")
    run = Run.objects.get()
    folder = run.features_file.removesuffix("features.csv")
    assert out == (
        f"cmd_insurance: run {run.pk} transformed 400 rows into "
        f"{folder}features-train.csv and {folder}features-evaluation.csv\n"
    )

    out, _ = run_learn("cmd_insurance", only="load")
    assert "BinaryAUC" in out
    assert Run.objects.get().status == Run.Status.SUCCEEDED


def test_load_without_transformed_run_says_what_to_do(registered, db):
    registered(InsurancePipeline)

    err = StringIO()

    with pytest.raises(CommandError, match="Failed: cmd_insurance"):
        call_command(
            "learn", "cmd_insurance", only="load", stdout=StringIO(), stderr=err
        )

    assert err.getvalue() == (
        "cmd_insurance: Pipeline 'cmd_insurance' has no transformed run to load; "
        "run 'manage.py learn cmd_insurance --only transform' first.\n"
    )


def test_resume_continues_a_failed_run(registered, insured_rows, monkeypatch):
    from mlpipeline.backends.embedded import EmbeddedBackend

    registered(InsurancePipeline)
    real = EmbeddedBackend.create_evaluation

    def refuse(self, *args, **kwargs):
        raise RuntimeError("the service went away")

    monkeypatch.setattr(EmbeddedBackend, "create_evaluation", refuse)
    with pytest.raises(RuntimeError):
        run_learn("cmd_insurance")
    run = Run.objects.get()
    monkeypatch.setattr(EmbeddedBackend, "create_evaluation", real)

    out, _ = run_learn(resume=run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert out.startswith(f"cmd_insurance: BINARY model {run.model_id} BinaryAUC")


def test_resume_of_an_unknown_run(db):
    with pytest.raises(CommandError, match="There is no run 404"):
        run_learn(resume=404)


@pytest.mark.django_db(transaction=True)
def test_ask_endpoints_sends_the_first_api_token_over_http(
    registered, insured_rows, live_server, settings
):
    settings.MLPIPELINE_ENDPOINT_BASE_URL = live_server.url
    settings.MLPIPELINE_API_TOKENS = ["demo-token", "other"]
    registered(InsurancePipeline)
    run_learn("cmd_insurance")
    run = Run.objects.get()
    out = StringIO()

    call_command("ask_endpoints", "cmd_insurance", stdout=out)

    first = Insured.objects.order_by("pk").first()
    line = out.getvalue()
    assert line.startswith(f"cmd_insurance: {run.endpoint_url} answered '")
    assert line.endswith(f"; true value {'1' if first.insurance else '0'!r}\n")
    with pytest.raises(CommandError, match=r"answered 401: .*no token of MLPIPE"):
        call_command("ask_endpoints", "cmd_insurance", token="wrong", stdout=out)


def test_ask_endpoints_without_a_token_says_where_to_set_one(
    registered, insured_rows, settings
):
    settings.MLPIPELINE_API_TOKENS = []
    registered(InsurancePipeline)
    run_learn("cmd_insurance")

    with pytest.raises(CommandError) as refused:
        call_command("ask_endpoints", "cmd_insurance", stdout=StringIO())

    assert str(refused.value) == (
        "The embedded endpoints answer only callers with a token; set "
        "MLPIPELINE_API_TOKENS or pass --token."
    )
