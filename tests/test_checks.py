"""Declaration and settings mistakes surface in ``manage.py check``."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from mlpipeline import Pipeline
from mlpipeline.checks import check_mlpipeline
from tests.fieldzoo.models import Specimen

AMAZON = "mlpipeline.backends.amazon.AmazonBackend"


class ZooPipeline(Pipeline):
    name = "zoo"
    model = Specimen
    fields = ["integer", "kind"]
    target = "kind"


def declare(**attributes):
    return type("Declared", (ZooPipeline,), attributes)


def reported():
    """Return the text of each system check message, as manage.py shows it."""
    return [str(message) for message in check_mlpipeline()]


def test_a_correct_project_has_no_issues(registered):
    registered(ZooPipeline)
    out = StringIO()

    call_command("check", stdout=out)

    assert out.getvalue() == "System check identified no issues (0 silenced).\n"


@pytest.mark.parametrize(
    ("attributes", "text"),
    [
        (
            {"fields": ["integer", "salary", "kind"]},
            "<Declared 'zoo'>: (mlpipeline.E001) Pipeline 'zoo' names field "
            "'salary', which Specimen does not have; its fields are: id, char, "
            "char_null, text, email, slug, url, ip, integer, big, small, positive, "
            "positive_small, positive_big, floating, decimal, flag, maybe, answer, "
            "size, level, day, moment, clock, duration, uuid, code, keeper, "
            "profile, data, blob, attachment, kind, score, tags.\n"
            "\tHINT: Correct fields, annotate get_queryset() with the value, or "
            "compute it in a row() method.",
        ),
        (
            {"target": ""},
            "<Declared 'zoo'>: (mlpipeline.E002) Pipeline 'zoo' declares no "
            "target.\n\tHINT: Set target to the attribute the model predicts.",
        ),
        (
            {"target": "wealth"},
            "<Declared 'zoo'>: (mlpipeline.E002) Pipeline 'zoo' has target "
            "'wealth', which is not among its attributes: integer, kind.\n"
            "\tHINT: Add the target to fields, or name one of them.",
        ),
        (
            {"attribute_types": {"integer": "INTEGER"}},
            "<Declared 'zoo'>: (mlpipeline.E003) Pipeline 'zoo' gives attribute "
            "'integer' the type 'INTEGER'; use one of BINARY, CATEGORICAL, "
            "NUMERIC, TEXT.",
        ),
        (
            {"attribute_types": {"income": "NUMERIC"}},
            "<Declared 'zoo'>: (mlpipeline.E003) Pipeline 'zoo' names attribute "
            "'income', which is not among its attributes: integer, kind.\n"
            "\tHINT: Name attributes of the features file in attribute_types, "
            "excluded and row_id.",
        ),
        (
            {"backend": "nowhere"},
            "<Declared 'zoo'>: (mlpipeline.E004) Pipeline 'zoo': "
            "MLPIPELINE_BACKENDS has no backend 'nowhere'; configured: embedded.\n"
            "\tHINT: Name an alias of MLPIPELINE_BACKENDS in the pipeline's "
            "backend.",
        ),
        (
            {"sgd": {"sgd.maxPasses": 0}},
            "<Declared 'zoo'>: (mlpipeline.E007) Pipeline 'zoo' sgd: Training "
            "parameter 'sgd.maxPasses' has value '0'; expected an integer between "
            "1 and 10000.",
        ),
        (
            {"max_rejected": 1.5},
            "<Declared 'zoo'>: (mlpipeline.E007) Pipeline 'zoo' has max_rejected "
            "1.5; use a fraction of the extracted rows from 0 (reject none) up "
            "to, not including, 1.",
        ),
    ],
)
def test_declaration_mistakes_are_system_check_errors(registered, attributes, text):
    registered(declare(**attributes))

    assert reported() == [text]


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (
            "data",
            "fieldzoo.Specimen.data: (mlpipeline.E006) Pipeline 'zoo' reads "
            "fieldzoo.Specimen.data, a JSONField, which holds JSON documents; it "
            "has no Amazon ML type.\n\tHINT: Pick the values to learn from with an "
            "annotation of get_queryset(), such as "
            "annotate(plan=KT('data__plan')) (django.db.models.fields.json.KT), or "
            "compute them in a row() method.",
        ),
        (
            "blob",
            "fieldzoo.Specimen.blob: (mlpipeline.E006) Pipeline 'zoo' reads "
            "fieldzoo.Specimen.blob, a BinaryField, which holds raw bytes; it has "
            "no Amazon ML type.\n\tHINT: Compute a value from the bytes in a row() "
            "method.",
        ),
        (
            "attachment",
            "fieldzoo.Specimen.attachment: (mlpipeline.E006) Pipeline 'zoo' reads "
            "fieldzoo.Specimen.attachment, a FileField, which holds a stored file; "
            "it has no Amazon ML type.\n\tHINT: Compute a value from the file (its "
            "size, its type) in a row() method.",
        ),
        (
            "tags",
            "fieldzoo.Specimen.tags: (mlpipeline.E006) Pipeline 'zoo' reads 'tags' "
            "through fieldzoo.Specimen.tags, which holds many values per row.\n"
            "\tHINT: Compute one value from them in a row() method or an "
            "annotation of get_queryset() (a Count, say).",
        ),
        (
            "tags__label",
            "fieldzoo.Tag.label: (mlpipeline.E006) Pipeline 'zoo' reads "
            "'tags__label' through fieldzoo.Tag.label, which holds many values per "
            "row.\n\tHINT: Compute one value from them in a row() method or an "
            "annotation of get_queryset() (a Count, say).",
        ),
        (
            "keeper__specimen",
            "<Declared 'zoo'>: (mlpipeline.E006) Pipeline 'zoo' reads "
            "'keeper__specimen' through fieldzoo.Keeper.specimen, which holds "
            "many values per row.\n\tHINT: Compute one value from them in a row() "
            "method or an annotation of get_queryset() (a Count, say).",
        ),
    ],
)
def test_fields_without_one_value_per_row_are_refused_by_name(registered, field, text):
    registered(declare(fields=[field, "kind"]))

    assert reported() == [text]


def test_manage_py_check_fails_on_an_unsupported_field(registered):
    registered(declare(fields=["data", "kind"]))

    with pytest.raises(SystemCheckError, match=r"fieldzoo\.Specimen\.data: \(mlpip"):
        call_command("check")


def test_unknown_default_backend(registered, settings):
    registered(ZooPipeline)
    settings.MLPIPELINE_DEFAULT_BACKEND = "amazon"

    assert reported() == [
        "?: (mlpipeline.E004) MLPIPELINE_DEFAULT_BACKEND is 'amazon', which "
        "MLPIPELINE_BACKENDS does not configure; configured: embedded.\n"
        "\tHINT: Set MLPIPELINE_DEFAULT_BACKEND to a configured alias, or "
        "configure it."
    ]


def test_backend_class_that_does_not_exist(settings):
    settings.MLPIPELINE_BACKENDS = {
        "embedded": {"BACKEND": "mlpipeline.backends.embedded.EmbeddedBackend"},
        "gone": {"BACKEND": "mlpipeline.backends.gone.Backend"},
    }

    assert reported() == [
        "?: (mlpipeline.E004) MLPIPELINE_BACKENDS['gone']['BACKEND'] must be the "
        "dotted path of a backend class: No module named 'mlpipeline.backends.gone'"
    ]


def test_backend_missing_a_setting_is_reported_once(registered, settings):
    settings.MLPIPELINE_BACKENDS = {
        "embedded": {"BACKEND": "mlpipeline.backends.embedded.EmbeddedBackend"},
        "amazon": {"BACKEND": AMAZON, "OPTIONS": {"REGION": "eu-west-1"}},
    }
    registered(declare(backend="amazon"), declare(name="zoo_two", backend="amazon"))

    assert reported() == [
        "?: (mlpipeline.E005) Backend 'amazon' cannot be made: "
        "MLPIPELINE_BACKENDS['amazon']['OPTIONS'] needs BUCKET, the S3 bucket "
        "that features files are uploaded to.\n"
        "\tHINT: Complete MLPIPELINE_BACKENDS['amazon']['OPTIONS']."
    ]


def test_check_of_one_app_checks_only_its_pipelines(registered):
    registered(declare(fields=["data", "kind"]))
    out = StringIO()

    call_command("check", "demo", stdout=out)

    assert out.getvalue() == "System check identified no issues (0 silenced).\n"
