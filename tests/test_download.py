"""A run's features, downloaded from the admin as one file of both sides,
cannot run formulas in a spreadsheet; the files the backends train on keep
the raw values."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.storage import default_storage
from django.urls import reverse

from mlpipeline import Pipeline
from mlpipeline.download import spreadsheet_safe
from mlpipeline.learn import learn
from mlpipeline.models import Run
from mlpipeline.split import SplitRule, split_paths
from project.demo.models import Insured
from tests.faults import FailingStorage

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


def train_rows():
    """Return how many people the split by primary key puts to training."""
    rule = SplitRule(seed="gender_typed", train_percent=70)
    keys = [str(pk) for pk in Insured.objects.values_list("pk", flat=True)]
    return rule.sides(keys).count("train")


def stored_rows(run, side):
    """Return the rows of ``run``'s uploaded features file of ``side``."""
    name = f"uploads/gender_typed-{run.pk}-{run.token}-features-{side}.csv"
    with default_storage.open(name) as stored:
        return list(csv.reader(io.TextIOWrapper(stored, encoding="utf-8")))


def test_the_download_joins_both_sides_quoting_typed_formulas(client, run):
    operator(client, "download_data")

    response = download(client, run)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="gender_typed-run-{run.pk}-features.csv"'
    )
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    train = train_rows()
    # The header once, then the training rows, then the evaluation rows,
    # each led by its side.
    assert rows[0] == ["(split)", "age", "gender", "insurance"]
    assert (run.rows_train, run.rows_evaluation) == (train, 400 - train)
    assert [row[0] for row in rows[1:]] == (
        ["train"] * train + ["evaluation"] * (400 - train)
    )
    for side, start, end in [
        ("train", 1, train + 1),
        ("evaluation", train + 1, 401),
    ]:
        assert [row[1:] for row in rows[start:end]] == [
            [spreadsheet_safe(cell) for cell in row]
            for row in stored_rows(run, side)[1:]
        ], side
    # The transform folded "\r=1" to " =1", which no spreadsheet runs.
    assert {row[2] for row in rows[1:]} == {
        "'=1+2", "'+1+cmd", "'-2+3", "'@SUM(A1)", "'\t=1", " =1", "-3.5", "+2",
        "female", "male",
    }  # fmt: skip
    assert sorted({int(row[1]) for row in rows[1:]}) == sorted(
        set(Insured.objects.values_list("age", flat=True))
    )


def test_the_training_files_keep_the_raw_values(run):
    train, evaluation = stored_rows(run, "train"), stored_rows(run, "evaluation")
    expected = train_rows()

    assert train[0] == evaluation[0] == ["age", "gender", "insurance"]
    assert (len(train), len(evaluation)) == (expected + 1, 400 - expected + 1)
    assert {row[1] for row in train[1:] + evaluation[1:]} == {
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
    # One side gone is enough: half the rows would mislead whoever opens it.
    default_storage.delete(
        f"uploads/gender_typed-{run.pk}-{run.token}-features-evaluation.csv"
    )

    response = client.post(
        RUNS,
        {"action": "download_features", "_selected_action": [run.pk]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"Run {run.pk} of 'gender_typed' has no features file any more: it was "
        "never written, or cleanup_models deleted it."
    ]


def downloaded_rows(client, run):
    """Return the rows of ``run``'s download, as an operator gets them."""
    response = download(client, run)
    assert response.status_code == 200, response
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_a_run_made_before_the_split_downloads_its_one_file(client, run):
    operator(client, "download_data")
    # Such a run's upload step recorded one location, for one file.
    upload = run.completed_step("upload")
    single = upload.detail["locations"]["evaluation"]
    upload.detail = {"location": single, "schema": upload.detail["schema"]}
    upload.save()

    rows = downloaded_rows(client, run)

    assert rows[0] == ["age", "gender", "insurance"]
    assert rows == [
        [spreadsheet_safe(cell) for cell in row]
        for row in stored_rows(run, "evaluation")
    ]


@pytest.fixture
def not_uploaded(client, insured_rows, settings):
    """Return a run whose upload failed, leaving its files in its folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.faults.FailingStorage"},
    }
    FailingStorage.failing = r"^uploads/.*-features-train\.csv$"
    try:
        with pytest.raises(OSError, match="No space left on device"):
            learn(GenderPipeline())
    finally:
        FailingStorage.failing = None
    operator(client, "download_data")
    return Run.objects.latest("pk")


def local_rows(path):
    """Return the rows of the local CSV file ``path``."""
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_a_run_whose_upload_failed_downloads_its_local_files(client, not_uploaded):
    rows = downloaded_rows(client, not_uploaded)

    local = split_paths(Path(not_uploaded.features_file))
    expected = [["(split)", "age", "gender", "insurance"]]
    for side in ("train", "evaluation"):
        expected += [[side, *row] for row in local_rows(local[side])[1:]]
    assert rows == expected
    assert len(rows) == 401


def test_a_run_transformed_before_the_split_downloads_its_local_file(
    client, not_uploaded
):
    # Such a run's transform wrote one features file, at features_file:
    # both side files move there, the evaluation file last, so it stays.
    local = split_paths(Path(not_uploaded.features_file))
    single = local_rows(local["evaluation"])
    for path in local.values():
        path.rename(not_uploaded.features_file)

    assert downloaded_rows(client, not_uploaded) == single
