import json

import pytest
from django.urls import reverse
from django.utils import timezone

from mlpipeline import registry
from mlpipeline.admin_statistics import statistics_html
from mlpipeline.engine import DirectoryStore, Engine
from mlpipeline.models import Run, RunStep

pytestmark = pytest.mark.django_db

ROWS = b"""age,plan,note,insured
30,gold,Great value!,yes
40,gold,great,yes
50,basic,poor,no
,basic,poor service,no
abc,gold,,maybe
"""
SCHEMA = {
    "targetAttributeName": "insured",
    "dataFileContainsHeader": True,
    "attributes": [
        {"attributeName": "age", "attributeType": "NUMERIC"},
        {"attributeName": "plan", "attributeType": "CATEGORICAL"},
        {"attributeName": "note", "attributeType": "TEXT"},
        {"attributeName": "insured", "attributeType": "BINARY"},
    ],
}


@pytest.fixture
def statistics(tmp_path):
    """Return the statistics the engine computes for ROWS."""
    store = DirectoryStore(tmp_path / "engine")
    store.write("rows.csv", ROWS)
    engine = Engine(store)
    engine.create_data_source_from_s3(
        DataSourceId="ds",
        DataSpec={"DataLocationS3": "rows.csv", "DataSchema": json.dumps(SCHEMA)},
        ComputeStatistics=True,
    )
    return engine.get_data_source(DataSourceId="ds")["Statistics"]


def test_statistics_html_shows_counts_target_and_attributes(statistics):
    html = " ".join(statistics_html({"train": statistics, "evaluation": None}).split())

    assert "<h3>Training data</h3>" in html and "Evaluation data" not in html
    assert "5 records in the file, 5 selected, 5 valid, 0 invalid." in html
    assert "Target insured (BINARY): 0 2, 1 2" in html
    # 3 valid ages, 1 missing, 1 invalid; |r| of 30, 40, 50 with 1, 1, 0.
    assert (
        "<th>age</th> <td>NUMERIC</td> <td>3</td> <td>1</td> <td>1</td> <td>0.866</td>"
    ) in html
    assert "min 30, median 40, mean 40, max 50; 3 distinct values" in html
    assert "2 distinct values; most frequent: gold (3), basic (2)" in html
    assert (
        "6 words, 5 distinct; 1 to 2 words a record of 4 to 7 characters; most "
        "frequent: great (2), poor (2), service (1), value (1)"
    ) in html
    assert "<td>30 to 32</td>" in html  # the first histogram bar
    target_row = "<th>insured</th> <td>BINARY</td> <td>4</td> <td>0</td> <td>1</td>"
    assert f"{target_row} <td>-</td>" in html


def test_statistics_html_without_statistics():
    assert "returned no data source statistics" in statistics_html({})
    without = statistics_html({"train": {"records": {"total": 3}, "target": None}})
    assert "made without ComputeStatistics" in without


def test_model_and_run_pages_show_the_statistics(admin_client, statistics):
    run = Run.objects.create(pipeline="insurance", model_id="ml-insurance-1")
    RunStep.objects.create(
        run=run,
        name="train_datasource",
        status=RunStep.Status.SUCCEEDED,
        started_at=timezone.now(),
        detail={"statistics": statistics},
    )
    model = registry.record(run)

    for url in (
        reverse("admin:mlpipeline_trainedmodel_change", args=[model.pk]),
        reverse("admin:mlpipeline_run_change", args=[run.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert '<fieldset class="module" id="data-source-statistics">' in page
        assert "5 records in the file, 5 selected, 5 valid, 0 invalid." in page
        assert "<th>note</th>" in page
