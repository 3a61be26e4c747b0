"""Nobody let in: request limits, malformed bodies, admin permissions and
CSRF, no pickles, no secrets in logs or records, no names leaving their
folder."""

import ast
import json
import logging
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.files.storage import default_storage
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter

import mlpipeline
from mlpipeline import register, registry, views
from mlpipeline.backends import get_backend
from mlpipeline.engine import InvalidInputException
from mlpipeline.exceptions import DatabaseUnavailable, PipelineDeclarationError
from mlpipeline.learn import learn
from mlpipeline.models import PipelineState, Run, TrainedModel
from mlpipeline.storage import DjangoStore, save_file
from project.demo.models import Insured
from tests.insurance import InsurancePipeline

pytestmark = pytest.mark.django_db

TOKEN = "tok-9f2c1e7d-never-in-a-log"
PREDICT = "/mlpipeline/predict/insurance/"


@pytest.fixture
def run(insured_rows, settings):
    settings.MLPIPELINE_API_TOKENS = [TOKEN]
    return learn(InsurancePipeline())


def post(client, url, body, token=TOKEN, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        url, data, content_type="application/json", headers=headers, **extra
    )


def endpoints(run):
    return {"predict API": PREDICT, "realtime endpoint": run.endpoint_url}


# Request size ----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["predict API", "realtime endpoint"])
def test_a_body_over_the_limit_is_a_json_413_before_it_is_read(
    client, run, settings, endpoint
):
    settings.MLPIPELINE_MAX_REQUEST_BYTES = 2000
    body = json.dumps({"Record": {"gender": "x" * 2000}})

    response = post(client, endpoints(run)[endpoint], body)

    assert response.status_code == 413
    assert response.json() == {
        "__type": "InvalidInputException",
        "message": "The request body is larger than 2000 bytes; send one record.",
    }


def test_the_default_limit_is_128_kib(client, run):
    within = {"Record": {"gender": "x" * (128 * 1024 - 100)}}
    over = {"Record": {"gender": "x" * (128 * 1024)}}

    assert post(client, PREDICT, within).status_code == 200
    assert post(client, PREDICT, over).json()["message"] == (
        "The request body is larger than 131072 bytes; send one record."
    )


def test_an_oversized_body_is_refused_even_before_credentials(client, run, settings):
    settings.MLPIPELINE_MAX_REQUEST_BYTES = 100

    response = post(client, PREDICT, {"Record": {"gender": "x" * 200}}, token="")

    assert response.status_code == 413


def test_a_pipeline_name_with_a_slash_or_line_break_gets_the_json_404(client, run):
    nested = post(client, "/mlpipeline/predict/a/b/", {"Record": {}})
    broken = post(client, "/mlpipeline/predict/a%0Ab/", {"Record": {}})

    assert (nested.status_code, broken.status_code) == (404, 404)
    assert nested.json() == {
        "__type": "ResourceNotFoundException",
        "message": "No pipeline is named 'a/b'; pipeline names are lower-case "
        "letters, digits and underscores.",
    }
    assert broken.json()["message"].startswith("No pipeline is named 'a\\nb';")


# Malformed JSON --------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["predict API", "realtime endpoint"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"Record": {"age": 61,}}',
            "The request body is not JSON: Expecting property name enclosed in "
            "double quotes: line 1 column 23 (char 22).",
        ),
        (
            b'{"Record": {"gender": "\xff"}}',
            "The request body is not JSON: 'utf-8' codec can't decode byte 0xff "
            "in position 23: invalid start byte.",
        ),
        (
            b"[" * 50_000 + b"]" * 50_000,
            "The request body nests arrays or objects too deeply to read; send a "
            "Record of plain values.",
        ),
        (b"", 'The request body must be a JSON object with a "Record" object.'),
        (b"[1, 2]", 'The request body must be a JSON object with a "Record" object.'),
    ],
    ids=["syntax", "not-utf-8", "deeply-nested", "empty", "array"],
)
def test_a_malformed_body_is_a_400_naming_the_problem(
    client, run, endpoint, body, message
):
    response = post(client, endpoints(run)[endpoint], body)

    assert response.status_code == 400
    assert response.json() == {"__type": "InvalidInputException", "message": message}


# Admin actions: permissions and CSRF ----------------------------------------

PIPELINES = reverse("admin:mlpipeline_pipelinestate_changelist")
RUNS = reverse("admin:mlpipeline_run_changelist")
MODELS = reverse("admin:mlpipeline_trainedmodel_changelist")


def trained(metric):
    """Record and decide a hand-made model of 'insurance' at ``metric``."""
    made = Run.objects.create(
        pipeline="insurance", backend="embedded", status=Run.Status.SUCCEEDED,
        model_type="BINARY", metric_name="BinaryAUC", metric_value=metric,
        baseline=0.5,
    )  # fmt: skip
    made.model_id = f"ml-insurance-{made.pk}"
    made.save()
    return registry.decide(registry.record(made))


class Scene:
    """Objects each admin action works on, and whether the action happened."""

    def __init__(self):
        PipelineState.objects.get_or_create(name="health_insurance")
        self.old, self.active = trained(0.8), trained(0.9)
        self.refused = trained(0.6)
        self.failed = Run.objects.create(
            pipeline="health_insurance", backend="embedded", status="failed"
        )
        self.state = PipelineState.objects.get(name="insurance")

    def target(self, action):
        return {
            "retrain_now": (PIPELINES, PipelineState.objects.get(
                name="health_insurance").pk),
            "roll_back": (PIPELINES, self.state.pk),
            "resume": (RUNS, self.failed.pk),
            "promote": (MODELS, self.refused.pk),
        }[action]  # fmt: skip

    def happened(self, action):
        active = PipelineState.objects.get(name="insurance").active_model
        return {
            "retrain_now": Run.objects.filter(pipeline="health_insurance")
            .exclude(pk=self.failed.pk)
            .exists(),
            "roll_back": active == self.old,
            "resume": Run.objects.get(pk=self.failed.pk).status != "failed",
            "promote": active == self.refused,
        }[action]


ACTIONS = {
    "retrain_now": "run_pipeline",
    "roll_back": "promote_model",
    "resume": "resume_run",
    "promote": "promote_model",
}
VIEW = ["view_pipelinestate", "view_run", "view_trainedmodel"]


def staff_client(*codenames, csrf=False):
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=[*VIEW, *codenames])
    )
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_admin_action_refuses_a_user_without_its_permission(action):
    scene = Scene()
    others = [perm for perm in ACTIONS.values() if perm != ACTIONS[action]]
    client = staff_client(*others)
    url, pk = scene.target(action)

    response = client.post(
        url, {"action": action, "_selected_action": [pk]}, follow=True
    )

    assert response.status_code == 200
    assert not scene.happened(action)
    said = [str(message) for message in response.context["messages"]]
    assert said in ([], ["No action selected."])
    form = client.get(url).context["action_form"]
    offered = [] if form is None else dict(form.fields["action"].choices)
    assert action not in offered


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_admin_action_refuses_a_post_without_the_csrf_token(action):
    scene = Scene()
    client = staff_client(*ACTIONS.values(), csrf=True)
    url, pk = scene.target(action)

    refused = client.post(url, {"action": action, "_selected_action": [pk]})

    assert refused.status_code == 403
    assert b"CSRF verification failed" in refused.content
    assert not scene.happened(action)

    client.get(url)
    token = client.cookies["csrftoken"].value
    allowed = client.post(
        url,
        {"action": action, "_selected_action": [pk], "csrfmiddlewaretoken": token},
    )

    assert allowed.status_code == 302
    assert scene.happened(action)


# No pickle -------------------------------------------------------------------

_PACKAGE = Path(mlpipeline.__file__).parent


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def test_no_module_unpickles_and_every_numpy_load_refuses_pickles():
    loads, imports = [], []
    for path in sorted(_PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(_PACKAGE).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names]
                module = getattr(node, "module", None) or ""
                for name in [module, *names]:
                    if name.split(".")[0] in ("pickle", "cPickle", "dill", "joblib"):
                        imports.append((where, name))
        for call in _calls(tree):
            if call.func.attr == "load" and getattr(call.func.value, "id", "") in (
                "np", "numpy",
            ):  # fmt: skip
                keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                loads.append((where, keywords.get("allow_pickle")))
            if call.func.attr in ("read_pickle", "loads") and getattr(
                call.func.value, "id", ""
            ) in ("pd", "pandas", "pickle"):
                imports.append((where, call.func.attr))

    assert imports == []
    assert loads == [("engine/predictor.py", False)]


def test_a_served_model_whose_weights_were_replaced_by_a_pickle_is_refused(client, run):
    weights = f"engine/mlmodels/files/{run.model_id}.npz"
    default_storage.delete(weights)
    default_storage.save(weights, __import__("io").BytesIO(b"\x80\x04K\x01."))

    response = post(client, run.endpoint_url, {"Record": {}})

    assert response.json()["message"].startswith(
        f"MLModel '{run.model_id}' cannot be loaded: the weights file is not a "
        "NumPy .npz archive of the numeric arrays coef and intercept (This file "
        "contains pickled (object) data."
    )


# No secrets ------------------------------------------------------------------


def test_the_api_token_is_in_no_answer_log_or_error_report(
    client, run, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    answers = [
        post(client, PREDICT, {"Record": {}}, token=TOKEN + "x"),
        post(client, PREDICT, {"Record": {}}, token=TOKEN[:-1]),
        post(client, PREDICT, "{not json"),
        post(client, "/mlpipeline/predict/nothing/", {"Record": {}}),
        post(client, PREDICT, {"Record": {"age": [1]}}),
        post(client, PREDICT, {"Record": {}}),
    ]

    def broken(*args, **kwargs):
        raise RuntimeError("the model file could not be read")

    monkeypatch.setattr(views, "predict", broken)
    client.raise_request_exception = False
    failed = post(client, PREDICT, {"Record": {}})

    assert [answer.status_code for answer in answers] == [401, 401, 400, 404, 400, 200]
    assert failed.status_code == 500
    for answer in [*answers, failed]:
        assert TOKEN not in answer.content.decode()
    assert TOKEN[:8] not in caplog.text
    (report,) = [r for r in caplog.records if getattr(r, "status_code", 0) == 500]
    # What Django's AdminEmailHandler would mail to the ADMINS.
    text = ExceptionReporter(report.request, *report.exc_info, is_email=True)
    assert "the model file could not be read" in text.get_traceback_text()
    assert TOKEN not in text.get_traceback_text()


DATABASE_PASSWORD = "pw-5d1e0b6c-never-in-a-log"


@pytest.fixture
def warehouse(db):
    """A second database, PostgreSQL on a port where nothing listens.

    The connection is made by hand and handed to this thread's connections
    without entering the DATABASES settings, as Django's tests allow for
    connections made on the fly.
    """
    configured = connections.configure_settings(
        {
            "default": connections.settings["default"],
            "warehouse": {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": "127.0.0.1",
                "PORT": "18299",
                "NAME": "warehouse",
                "USER": "reader",
                "PASSWORD": DATABASE_PASSWORD,
            },
        }
    )
    wrapper = PostgresWrapper(configured["warehouse"], alias="warehouse")
    connections["warehouse"] = wrapper
    yield
    wrapper.close()
    del connections["warehouse"]


class WarehousePipeline(InsurancePipeline):
    name = "warehouse"

    def get_queryset(self):
        return Insured.objects.using("warehouse")


def test_the_database_password_is_in_no_record_log_or_mail(warehouse, settings, caplog):
    settings.ADMINS = [("Ops", "ops@example.com")]
    caplog.set_level(logging.DEBUG)

    with pytest.raises(DatabaseUnavailable) as failed:
        learn(WarehousePipeline())

    run = Run.objects.get()
    assert run.error == str(failed.value)
    assert run.error.startswith(
        "Pipeline 'warehouse': the database connection failed while extracting "
        'rows (connection failed: connection to server at "127.0.0.1", port '
        "18299 failed: Connection refused)."
    )
    (message,) = mail.outbox
    recorded = [
        run.error, json.dumps(run.events), caplog.text, message.subject,
        message.body, *run.steps.values_list("error", flat=True),
    ]  # fmt: skip
    assert [text for text in recorded if DATABASE_PASSWORD in text] == []


# Names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../escape", "/etc/cron.d/x", "a\\b", "a\x00b", "..", "up/../../x"]
)
def test_a_pipeline_name_that_is_a_path_is_refused(name):
    message = (
        f"Pipeline name {name!r} holds a path separator, '..' or a NUL byte; "
        "pipeline names name folders and files, so use lower-case letters, "
        "digits and underscores only."
    )
    pipeline = type("Escaping", (InsurancePipeline,), {"name": name})

    with pytest.raises(PipelineDeclarationError) as at_declaration:
        register(pipeline)
    with pytest.raises(PipelineDeclarationError) as at_learn:
        learn(pipeline())

    assert str(at_declaration.value) == str(at_learn.value) == message
    assert not Run.objects.exists()
    assert not Path(default_storage.location).exists()


def test_a_pipeline_name_outside_the_pattern_says_what_is_allowed():
    with pytest.raises(PipelineDeclarationError) as refused:
        register(type("Shouting", (InsurancePipeline,), {"name": "Insurance\n"}))

    assert str(refused.value) == (
        "Pipeline name 'Insurance\\n' must start with a lower-case letter and hold "
        "at most 32 lower-case letters, digits and underscores."
    )


@pytest.mark.parametrize(
    "name",
    ["../outside.csv", "/etc/passwd", "uploads/a\x00.csv", "uploads\\..\\x.csv"],
)
def test_storage_names_that_could_leave_the_folder_are_refused(name, tmp_path):
    local = tmp_path / "features.csv"
    local.write_text("a\n1\n")
    store = DjangoStore(default_storage)
    attempts = [
        lambda: store.write(name, b"x"),
        lambda: store.open(name),
        lambda: save_file(default_storage, name, local),
    ]

    for attempt in attempts:
        with pytest.raises(ValueError, match=r"^Store name "):
            attempt()

    assert not Path(default_storage.location).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.csv"]


def test_the_engine_refuses_a_data_location_outside_its_store():
    with pytest.raises(InvalidInputException) as refused:
        get_backend().create_data_source(
            "ds-escape",
            name="escape",
            location="../../etc/passwd",
            schema={"attributes": []},
            rearrangement={},
        )

    assert str(refused.value) == (
        "DataLocationS3: Store name '../../etc/passwd' must be a relative path "
        "without empty, '.' or '..' components."
    )


def test_trained_model_rows_carry_no_secret_settings(run, settings):
    model = TrainedModel.objects.get(run=run)

    stored = json.dumps(
        [model.parameters, model.library_versions, model.entity_ids, run.events]
    )

    assert settings.SECRET_KEY not in stored
    assert TOKEN not in stored
