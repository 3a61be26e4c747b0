import re

import pytest
from django.urls import reverse

from mlpipeline import Pipeline
from mlpipeline.learn import learn
from mlpipeline.report import evaluation_html, per_class_f1
from project.demo.models import Insured


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "married", "insurance"]
    target = "insurance"


class AgePipeline(Pipeline):
    name = "ages"
    model = Insured
    fields = ["married", "insurance", "family", "age"]
    target = "age"


SCORES = {
    "kind": "score",
    "edges": [0.0, 0.25, 0.5, 0.75, 1.0],
    "counts": {"0": [6, 2, 1, 0], "1": [0, 1, 3, 2]},
    "threshold": 0.6,
}
RESIDUALS = {
    "kind": "residual",
    "edges": [-4.0, -2.0, 0.0, 2.0, 4.0],
    "counts": [1, 5, 8, 2],
    "below": 1,
    "above": 3,
    "mean": 0.25,
}


def bars(html):
    """Return (x, y, width, height, colour, title) of each bar, in order."""
    return re.findall(
        r'<rect class="bar" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
        r'height="([\d.]+)" fill="(#\w+)"><title>([^<]*)</title></rect>',
        html,
    )


def marker(html):
    found = re.search(r'<line class="marker" x1="([\d.]+)"', html)
    return float(found.group(1))


def test_per_class_f1_from_a_confusion_matrix():
    matrix = [[3, 1, 0], [2, 4, 0], [0, 0, 0]]

    assert per_class_f1(["a", "b", "c"], matrix) == {
        "a": 6 / 9,
        "b": 8 / 11,
        "c": 0.0,
    }


def test_report_shows_the_metric_against_its_baseline_and_the_heat_map():
    report = {
        "metric": "MulticlassAvgFScore",
        "value": 0.75,
        "baseline": 0.25,
        "records": 10,
        "confusion_matrix": {"labels": ["a", "b"], "matrix": [[4, 0], [2, 4]]},
    }

    html = evaluation_html(report, "MULTICLASS")

    assert html.startswith(
        "<p>MulticlassAvgFScore 0.7500 against a baseline of 0.2500 on 10 "
        'records.</p><table class="confusion-matrix">'
    )
    assert (
        '<td class="f1" style="background: rgb(111, 111, 255); color: #fff">0.800'
        in html
    )
    assert '<td style="background: rgb(255, 255, 255); color: #000">0</td>' in html


def test_binary_report_charts_the_scores_of_each_class_and_the_threshold():
    report = {"metric": "BinaryAUC", "value": 0.8, "score_threshold": 0.6}

    html = evaluation_html(report, "BINARY", SCORES)

    # 424 pixels of plot from x=28: a bin is 106 wide, half for each class,
    # and the tallest bar (6 records) is 114 high.
    assert bars(html)[:2] == [
        ("28.0", "28.0", "52.0", "114.0", "#4f6fd6", "0 to 0.25: 6 (true 0)"),
        ("134.0", "104.0", "52.0", "38.0", "#4f6fd6", "0.25 to 0.5: 2 (true 0)"),
    ]
    assert bars(html)[6] == (
        "293.0",
        "85.0",
        "52.0",
        "57.0",
        "#e08a2c",
        "0.5 to 0.75: 3 (true 1)",
    )
    assert len(bars(html)) == 8
    assert marker(html) == 28 + 0.6 * 424
    assert ">threshold 0.6</text>" in html
    assert (
        "<figcaption>Scores of the 15 evaluation records by true class, threshold "
        "0.6.</figcaption>" in html
    )
    assert ">true 0</text>" in html and ">true 1</text>" in html


def test_regression_report_charts_the_residuals_around_zero():
    report = {"metric": "RegressionRMSE", "value": 2.0, "baseline": 3.0}

    html = evaluation_html(report, "REGRESSION", RESIDUALS)

    assert [bar[3] for bar in bars(html)] == ["14.2", "71.2", "114.0", "28.5"]
    assert [bar[5] for bar in bars(html)][1] == "-2 to 0: 5 (residuals)"
    assert marker(html) == 240.0
    assert (
        "<figcaption>Residuals (true minus predicted) of the 20 evaluation records, "
        "mean 0.25; 1 below -4 and 3 above 4 are not drawn.</figcaption>" in html
    )


@pytest.mark.parametrize(
    ("model_type", "name"),
    [("BINARY", "score distribution"), ("REGRESSION", "residual distribution")],
)
def test_a_model_evaluated_before_distributions_were_recorded_says_so(model_type, name):
    html = evaluation_html({"metric": "m", "value": 1}, model_type, None)

    assert (
        f'<p class="no-distribution">No {name} was recorded for this model: it was '
        "evaluated before mlpipeline recorded them.</p>"
    ) in html
    assert "<svg" not in html


def test_an_amazon_ml_model_shows_the_metric_only_and_says_why():
    html = evaluation_html(None, "REGRESSION", None)

    assert html == (
        '<p class="metric-only">The backend reported the metric alone (Amazon '
        "ML&#x27;s evaluations give nothing more), so this report shows no "
        "residual distribution.</p>"
    )


def learn_and_open(admin_client, pipeline):
    """Learn ``pipeline``; return its run, its model and the model's page."""
    run = learn(pipeline())
    model = run.trained_model
    response = admin_client.get(
        reverse("admin:mlpipeline_trainedmodel_change", args=[model.pk])
    )
    return run, model, response.content.decode()


@pytest.mark.django_db
def test_admin_model_page_shows_the_binary_report(admin_client, insured_rows):
    run, model, page = learn_and_open(admin_client, InsurancePipeline)

    assert "Score threshold: 0.5" in page
    assert '<table class="confusion-matrix">' in page
    assert model.distribution == run.evaluation["histogram"]
    assert model.distribution["threshold"] == 0.5
    counts = model.distribution["counts"]
    assert sum(map(sum, counts.values())) == run.rows_evaluation
    assert '<figure class="distribution" data-kind="score">' in page
    assert len(bars(page)) == 40
    assert "sha256(seed|pk) with seed &#x27;insurance&#x27; and 70 % training" in page


@pytest.mark.django_db
def test_admin_model_page_shows_the_regression_report(admin_client, insured_rows):
    run, model, page = learn_and_open(admin_client, AgePipeline)

    distribution = model.distribution
    assert distribution["kind"] == "residual"
    drawn = sum(distribution["counts"])
    assert drawn + distribution["below"] + distribution["above"] == (
        run.rows_evaluation
    )
    assert distribution["edges"][0] == -distribution["edges"][-1]
    assert '<figure class="distribution" data-kind="residual">' in page
    assert len(bars(page)) == 20
    assert marker(page) == 240.0
