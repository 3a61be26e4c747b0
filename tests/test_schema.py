import pytest

from mlpipeline import LongIdExpander, Pipeline
from mlpipeline.exceptions import PipelineDeclarationError
from mlpipeline.schema import layout_for
from project.demo.models import HotelBooking, Insured, Policy


class InsurancePipeline(Pipeline):
    model = Insured
    fields = ["age", "gender", "married", "insurance"]
    target = "insurance"


def declare(base=InsurancePipeline, **attributes):
    return type("Declared", (base,), {"name": "declared", **attributes})()


def test_types_and_model_type_are_inferred_from_django_fields():
    layout = layout_for(InsurancePipeline())

    assert layout.attributes == [
        ("age", "NUMERIC"),
        ("gender", "CATEGORICAL"),
        ("married", "BINARY"),
        ("insurance", "BINARY"),
    ]
    assert layout.model_type == "BINARY"
    assert layout.pipeline == "insurance"


def test_schema_is_amazon_ml_json():
    pipeline = declare(fields=["id", "age", "insurance"], row_id="id", excluded=["age"])

    schema = layout_for(pipeline).schema()

    assert schema == {
        "version": "1.0",
        "rowId": "id",
        "rowWeight": None,
        "targetAttributeName": "insurance",
        "dataFormat": "CSV",
        "dataFileContainsHeader": True,
        "attributes": [
            {"attributeName": "id", "attributeType": "CATEGORICAL"},
            {"attributeName": "age", "attributeType": "NUMERIC"},
            {"attributeName": "insurance", "attributeType": "BINARY"},
        ],
        "excludedAttributeNames": ["age"],
    }


def test_attribute_types_override_inferred_types():
    layout = layout_for(declare(attribute_types={"age": "CATEGORICAL"}))

    assert dict(layout.attributes)["age"] == "CATEGORICAL"


def test_expanders_replace_their_source_column():
    class Plans(Pipeline):
        model = Policy
        fields = ["number", "plan"]
        target = "plan"
        expanders = [LongIdExpander("number", digits=2)]

    layout = layout_for(Plans())

    assert layout.columns == ["number", "plan"]
    assert layout.attribute_names == [
        "number_length", "number_base_10", "number_digit_1", "number_digit_2", "plan",
    ]  # fmt: skip
    assert layout.model_type == "MULTICLASS"


def test_date_fields_are_expanded_into_parts():
    class Hotel(Pipeline):
        model = HotelBooking
        fields = ["arrival_date", "avg_price_per_room"]
        target = "avg_price_per_room"

    layout = layout_for(Hotel())

    assert layout.attributes == [
        ("arrival_date_year", "NUMERIC"),
        ("arrival_date_month", "CATEGORICAL"),
        ("arrival_date_weekday", "CATEGORICAL"),
        ("avg_price_per_room", "NUMERIC"),
    ]
    assert layout.model_type == "REGRESSION"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            {"fields": ["age", "salary", "insurance"]},
            "Pipeline 'declared' names field 'salary', which Insured does not have",
        ),
        (
            {"attribute_types": {"income": "NUMERIC"}},
            "Pipeline 'declared' names attribute 'income', which is not among",
        ),
        (
            {"attribute_types": {"age": "INTEGER"}},
            "Pipeline 'declared' gives attribute 'age' the type 'INTEGER'",
        ),
        (
            {"target": "wealth"},
            "Pipeline 'declared' has target 'wealth', which is not among",
        ),
        (
            {"model_type": "REGRESSION"},
            "trains a REGRESSION model, but its target 'insurance' is BINARY",
        ),
        ({"model_type": "CLUSTERING"}, "has model_type 'CLUSTERING'"),
        ({"train_percent": 100}, "has train_percent 100"),
        ({"excluded": ["insurance"]}, "excludes its target 'insurance'"),
        ({"fields": []}, "declares no fields"),
        (
            {"expanders": [LongIdExpander("number")]},
            "expands 'number', which is not one of its fields",
        ),
    ],
)
def test_bad_declarations_name_pipeline_attribute_and_value(attributes, message):
    with pytest.raises(PipelineDeclarationError, match=message):
        layout_for(declare(**attributes))


def test_annotations_of_the_queryset_read_like_fields():
    from django.db.models import F

    class Annotated(InsurancePipeline):
        def get_queryset(self):
            return Insured.objects.annotate(age_squared=F("age") * F("age"))

    pipeline = declare(base=Annotated, fields=["age_squared", "insurance"])

    assert layout_for(pipeline).attributes == [
        ("age_squared", "NUMERIC"),
        ("insurance", "BINARY"),
    ]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"fields": "age"}, "has fields 'age', a string; give a list such as"),
        (
            {
                "fields": ["age", "gender", "insurance"],
                "expanders": [LongIdExpander("gender"), LongIdExpander("gender")],
            },
            "has two expanders of 'gender'",
        ),
        ({"row_id": "insurance"}, "uses its target 'insurance' as row_id"),
    ],
)
def test_more_declaration_mistakes(attributes, message):
    with pytest.raises(PipelineDeclarationError, match=message):
        layout_for(declare(**attributes))
