import random

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection
from hypothesis import HealthCheck, settings

from mlpipeline.pipeline import site
from project.demo.models import Insured

# Property tests: no example database left in the work tree, no timing (the
# machine is shared), and examples may share a test's database and folders,
# since each cleans up after itself.
settings.register_profile(
    "mlpipeline",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("mlpipeline")


@pytest.fixture
def registered():
    """Register pipeline classes for one test, then forget them."""
    names = []

    def register(*pipeline_classes):
        for pipeline_class in pipeline_classes:
            site.register(pipeline_class)
            names.append(pipeline_class.get_name())

    yield register
    for name in names:
        site.unregister(name)


@pytest.fixture
def keys_from_one(db):
    """Number the demo rows from 1, whatever earlier tests inserted.

    Rows go to the evaluation split by their primary key, so a test sees
    one known split on either database (SQLite's numbering rolls back with
    each test; a PostgreSQL sequence does not).
    """
    tables = [
        {"table": model._meta.db_table, "column": model._meta.pk.column}
        for model in apps.get_app_config("demo").get_models()
    ]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_by_name_sql(no_style(), tables):
            cursor.execute(sql)


@pytest.fixture
def insured_rows(keys_from_one):
    """Fill Insured with 400 synthetic people whose insurance follows age.

    They are numbered 1 to 400 on either database.
    """
    rng = random.Random(7)
    people = []
    for _ in range(400):
        age = rng.randint(18, 64)
        married = rng.random() < 0.5
        insured = rng.random() < (0.2 + 0.6 * (age - 18) / 46 + 0.1 * married)
        people.append(
            Insured(
                health=rng.random() < 0.8,
                age=age,
                limit=False,
                gender=rng.choice(["female", "male"]),
                insurance=insured,
                married=married,
                selfemp=False,
                family=rng.randint(1, 6),
                region=rng.choice(["south", "west"]),
                ethnicity="cauc",
                education=rng.choice(["ged", "bachelor"]),
            )
        )
    Insured.objects.bulk_create(people)
    return people


@pytest.fixture(autouse=True)
def files(settings, tmp_path):
    """Give each test its own storage and work folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MLPIPELINE_WORK_DIR = tmp_path / "work"
    return tmp_path
