"""A run's features file, downloaded from the admin, cannot run formulas in
a spreadsheet; the file the backends train on keeps the raw values."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.storage import default_storage
from django.urls import reverse

from mlpipeline import Pipeline
from mlpipeline.download import spreadsheet_safe
from mlpipeline.learn import learn
from project.demo.models import Insured

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:mlpipeline_run_changelist")
#: Genders typed into a form by someone hoping an operator opens the file.
TYPED = ["=1+2", "+1+cmd", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-3.5", "+2"]


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("-3.5", "-3.5"),
        ("+2", "+2"),
        ("1e-3", "1e-3"),
        ("-1e-3", "-1e-3"),
        ("-.5", "-.5"),
        ("-5.", "-5."),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_spreadsheet_safe_quotes_formulas_but_not_numbers(cell, shown):
    assert spreadsheet_safe(cell) == shown


class GenderPipeline(Pipeline):
    name = "gender_typed"
    model = Insured
    fields = ["age", "gender", "insurance"]
    target = "insurance"


@pytest.fixture
def run(insured_rows):
    people = list(Insured.objects.order_by("pk")[: len(TYPED)])
    for person, gender in zip(people, TYPED, strict=True):
        person.gender = gender
        person.save()
    return learn(GenderPipeline())


def operator(client, *codenames):
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_run", *codenames])
    )
    client.force_login(user)


def download(client, run):
    return client.post(
        RUNS, {"action": "download_features", "_selected_action": [run.pk]}
    )


def test_the_download_quotes_typed_formulas_and_keeps_numbers(client, run):
    operator(client, "download_data")

    response = download(client, run)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="gender_typed-run-{run.pk}-features.csv"'
    )
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["age", "gender", "insurance"]
    assert len(rows) == 401
    # The transform folded "\r=1" to " =1", which no spreadsheet runs.
    assert {row[1] for row in rows[1:]} == {
        "'=1+2", "'+1+cmd", "'-2+3", "'@SUM(A1)", "'\t=1", " =1", "-3.5", "+2",
        "female", "male",
    }  # fmt: skip
    assert sorted({int(row[0]) for row in rows[1:]}) == sorted(
        set(Insured.objects.values_list("age", flat=True))
    )


def test_the_training_file_keeps_the_raw_values(run):
    name = f"uploads/gender_typed-{run.pk}-{run.token}-features.csv"
    with default_storage.open(name) as stored:
        rows = list(csv.reader(io.TextIOWrapper(stored, encoding="utf-8")))

    assert {row[1] for row in rows[1:]} == {
        "=1+2", "+1+cmd", "-2+3", "@SUM(A1)", "\t=1", " =1", "-3.5", "+2",
        "female", "male",
    }  # fmt: skip


def test_the_download_needs_its_permission(client, run):
    operator(client)

    response = download(client, run)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert client.get(RUNS).context["action_form"] is None


def test_a_deleted_features_file_is_said_so(client, run):
    operator(client, "download_data")
    default_storage.delete(f"uploads/gender_typed-{run.pk}-{run.token}-features.csv")

    response = client.post(
        RUNS,
        {"action": "download_features", "_selected_action": [run.pk]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"Run {run.pk} of 'gender_typed' has no features file any more: it was "
        "never written, or cleanup_models deleted it."
    ]
