"""The demo pipelines on the real data sets reach the promised quality."""

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection

from mlpipeline.learn import learn
from mlpipeline.pipeline import site
from project.demo import datasets

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keys_from_one():
    """Number the demo rows from 1, whatever earlier tests inserted.

    Rows go to the evaluation split by their primary key, so the metrics
    below are those of one known split on either database.
    """
    tables = [
        {"table": model._meta.db_table, "column": model._meta.pk.column}
        for model in apps.get_app_config("demo").get_models()
    ]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_by_name_sql(no_style(), tables):
            cursor.execute(sql)


def accuracy(report):
    matrix = report["confusion_matrix"]["matrix"]
    total = sum(map(sum, matrix))
    return sum(matrix[i][i] for i in range(len(matrix))) / total


def learned(pipeline_name, loader):
    rows = loader()
    run = learn(site.get(pipeline_name))
    assert run.rows_extracted == run.rows_written == rows
    assert run.rows_train + run.rows_evaluation == rows
    assert run.rows_train == pytest.approx(0.7 * rows, rel=0.05)
    return run


def test_health_insurance_auc():
    """AUC >= 0.75 on average over five 70/30 splits by primary key.

    One split's AUC moves by about 0.01 with the seed on this data set: the
    five seeds below give 0.750 to 0.768 (the third decimal moves with the
    model's id, which seeds its shuffle). So the mean of five splits is
    asserted, and each split must stay near it.
    """
    rows = datasets.load_insured()
    pipeline_class = type(site.get("health_insurance"))
    scores = []
    for seed in ["health_insurance", "seed-1", "seed-2", "seed-3", "seed-4"]:
        pipeline = type("Seeded", (pipeline_class,), {"seed": seed})()
        run = learn(pipeline)
        assert run.rows_extracted == run.rows_train + run.rows_evaluation == rows
        assert run.metric_name == "BinaryAUC"
        scores.append(run.metric_value)

    assert rows == 8802
    assert sum(scores) / len(scores) >= 0.75
    assert min(scores) >= 0.74


def test_caravan_customer_type_macro_f1():
    run = learned("customer_type", datasets.load_customers)

    assert run.metric_name == "MulticlassAvgFScore"
    assert len(run.evaluation["confusion_matrix"]["labels"]) == 10
    assert run.metric_value >= 0.60
    assert run.metric_value > run.baseline


def test_hotel_rates_rmse():
    run = learned("hotel_rate", datasets.load_hotel_bookings)

    assert run.metric_name == "RegressionRMSE"
    assert run.metric_value <= 25
    assert run.metric_value < run.baseline


def test_policy_plan_accuracy():
    run = learned("policy_plan", lambda: datasets.load_policies(50_000))

    assert len(run.evaluation["confusion_matrix"]["labels"]) == 100
    assert accuracy(run.evaluation) >= 0.95
