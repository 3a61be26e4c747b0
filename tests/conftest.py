import random

import pytest
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
def insured_rows(db):
    """Fill Insured with 400 synthetic people whose insurance follows age."""
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
