"""Pre-flight checks: a load Amazon ML would refuse fails before any upload."""

import types

import pytest
from django.core.files.storage import default_storage

from mlpipeline import Pipeline
from mlpipeline.backends import get_backend
from mlpipeline.exceptions import DataError, PipelineDeclarationError
from mlpipeline.learn import learn
from mlpipeline.load import DEFAULT_PARAMETERS, entity_ids
from mlpipeline.models import Run
from mlpipeline.preflight import check
from mlpipeline.schema import Layout, layout_for
from project.demo.models import Insured, Policy

pytestmark = pytest.mark.django_db

#: A backend that wants the training parameters checked, as Amazon's does.
CHECKS_PARAMETERS = types.SimpleNamespace(preflight_parameters=True)


class PlanPipeline(Pipeline):
    name = "plans"
    model = Policy
    fields = ["number", "plan"]
    target = "plan"


class InsurancePipeline(Pipeline):
    name = "insurance"
    model = Insured
    fields = ["age", "insurance"]
    target = "insurance"


def run_check(layout, path, backend=CHECKS_PARAMETERS, **changes):
    """Check the training file ``path`` and an empty evaluation file."""
    options = {
        "ids": entity_ids(Run(pk=7, pipeline=layout.pipeline, token="tok123")),
        "parameters": DEFAULT_PARAMETERS,
        "recipe": None,
        **changes,
    }
    evaluation = write(path.parent, "age,insurance", name="features-evaluation.csv")
    check(backend, layout, [path, evaluation], **options)


def write(tmp_path, *lines, name="features-train.csv"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_multiclass_target_with_101_classes_fails_before_the_upload(db):
    # The transform step counts the classes as it writes the file.
    Policy.objects.bulk_create(
        Policy(number=f"P{n}", plan=f"plan {n % 101}") for n in range(303)
    )

    with pytest.raises(DataError) as refused:
        learn(PlanPipeline())

    assert str(refused.value) == (
        "Pipeline 'plans': target 'plan' has 101 classes; Amazon ML's MULTICLASS "
        "models take at most 100. Group the rare classes into fewer in "
        "get_queryset() or row(), or, if the target is a quantity, train a "
        "REGRESSION model."
    )
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED
    assert list(run.steps.values_list("name", flat=True)) == ["extract", "transform"]
    assert not default_storage.exists("uploads")


def test_an_observation_over_100_kb_is_refused_with_its_line(tmp_path):
    layout = layout_for(InsurancePipeline())
    long_line = "3" * 102_399 + ",1"
    path = write(tmp_path, "age,insurance", "30,0", long_line, "50,1")

    with pytest.raises(DataError) as refused:
        run_check(layout, path)

    assert str(refused.value) == (
        "Pipeline 'insurance': line 3 of features-train.csv holds 102401 bytes; "
        "Amazon ML skips observations over 102400 bytes. Shorten or exclude its "
        "longest text values."
    )


def test_the_evaluation_file_is_checked_too(tmp_path):
    layout = layout_for(InsurancePipeline())
    train = write(tmp_path, "age,insurance", "30,0")
    evaluation = write(
        tmp_path, "age,insurance", "3" * 102_399 + ",1", name="features-evaluation.csv"
    )

    with pytest.raises(DataError) as refused:
        check(
            CHECKS_PARAMETERS,
            layout,
            [train, evaluation],
            ids={},
            parameters=DEFAULT_PARAMETERS,
            recipe=None,
        )

    assert str(refused.value) == (
        "Pipeline 'insurance': line 2 of features-evaluation.csv holds 102401 "
        "bytes; Amazon ML skips observations over 102400 bytes. Shorten or exclude "
        "its longest text values."
    )


def test_more_than_1000_attributes_are_refused(tmp_path):
    attributes = [(f"a{n}", "NUMERIC") for n in range(1000)] + [("y", "BINARY")]
    layout = Layout(
        pipeline="wide",
        columns=[name for name, _ in attributes],
        attributes=attributes,
        target="y",
        model_type="BINARY",
        expanders=[],
    )

    with pytest.raises(PipelineDeclarationError) as refused:
        run_check(layout, tmp_path / "unread.csv")

    assert str(refused.value) == (
        "Pipeline 'wide' writes 1001 attributes; Amazon ML reads at most 1000 per "
        "file. Drop fields or expander outputs."
    )


def test_training_parameters_out_of_range_are_refused(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write(tmp_path, "age,insurance", "30,0", "40,1")
    parameters = {**DEFAULT_PARAMETERS, "sgd.maxPasses": "0"}

    with pytest.raises(PipelineDeclarationError) as refused:
        run_check(layout, path, parameters=parameters)

    assert str(refused.value) == (
        "Pipeline 'insurance' has training parameters Amazon ML refuses: Training "
        "parameter 'sgd.maxPasses' has value '0'; expected an integer between 1 "
        "and 10000. Change sgd in its declaration."
    )


def test_the_embedded_backend_leaves_parameters_to_the_engine(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write(tmp_path, "age,insurance", "30,0", "40,1")
    parameters = {**DEFAULT_PARAMETERS, "sgd.maxPasses": "0"}

    run_check(layout, path, backend=get_backend("embedded"), parameters=parameters)


def test_an_entity_id_over_64_characters_is_refused(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write(tmp_path, "age,insurance", "30,0", "40,1")
    long_id = "ds-" + "x" * 62

    with pytest.raises(PipelineDeclarationError) as refused:
        run_check(layout, path, ids={"train_datasource": long_id})

    assert str(refused.value) == (
        f"Pipeline 'insurance' would create the entity id '{long_id}' (65 "
        "characters); Amazon ML takes ids of at most 64 letters, digits, '_', '.' "
        "and '-'. Give the pipeline a shorter name made of those characters."
    )


def test_a_recipe_over_131071_characters_is_refused(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write(tmp_path, "age,insurance", "30,0", "40,1")

    with pytest.raises(PipelineDeclarationError, match="a recipe of 131072 char"):
        run_check(layout, path, recipe="x" * 131072)


def test_a_features_file_whose_header_differs_from_its_schema_is_refused(tmp_path):
    layout = layout_for(InsurancePipeline())
    path = write(tmp_path, "age,insured", "30,1")

    with pytest.raises(DataError) as refused:
        run_check(layout, path)

    assert str(refused.value) == (
        "Pipeline 'insurance': the header of features-train.csv differs from its "
        "schema at column 2: it has 'insured' where its schema has 'insurance'. "
        "Run the step that writes it again."
    )


def test_too_few_rows_for_the_split_stop_the_run_before_the_upload(db):
    person = dict(
        health=True, limit=False, gender="f", married=False, selfemp=False,
        family=1, region="s", ethnicity="c", education="g",
    )  # fmt: skip
    Insured.objects.bulk_create(
        Insured(age=20 + i, insurance=i % 2 == 0, **person) for i in range(12)
    )

    with pytest.raises(DataError) as refused:
        learn(InsurancePipeline())

    assert str(refused.value) == (
        "Pipeline 'insurance' has 12 rows with a target; a 70/30 split into "
        "training and evaluation needs at least 17, so that each side gets 5 or "
        "more. Add rows, or widen get_queryset()."
    )
    run = Run.objects.get()
    assert (run.status, run.rows_extracted, run.rows_written) == ("failed", 12, 12)
    assert run.steps.get(name="extract").detail["columns"] == ["age", "insurance"]
    assert not default_storage.exists("uploads")
