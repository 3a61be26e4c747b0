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


def test_regression_report_says_residuals_are_not_recorded():
    html = evaluation_html({"metric": "RegressionRMSE", "value": 2}, "REGRESSION")

    assert "The residual distribution is not recorded yet." in html


@pytest.mark.django_db
def test_admin_model_page_shows_the_binary_report(admin_client, insured_rows):
    run = learn(InsurancePipeline())

    response = admin_client.get(
        reverse("admin:mlpipeline_trainedmodel_change", args=[run.trained_model.pk])
    )

    page = response.content.decode()
    assert "Score threshold: 0.5" in page
    assert '<table class="confusion-matrix">' in page
