import pytest

from mlpipeline.engine import (
    InvalidInputException,
    InvalidTagException,
    ResourceNotFoundException,
    TagLimitExceededException,
)

from .conftest import ATTRS, binary_rows

DS = {"ResourceId": "ds-train", "ResourceType": "DataSource"}


def _tags(engine, ResourceId, ResourceType):
    """Return DescribeTags' tags after checking the rest of its answer."""
    found = engine.describe_tags(ResourceId=ResourceId, ResourceType=ResourceType)
    assert (found["ResourceId"], found["ResourceType"]) == (ResourceId, ResourceType)
    return found["Tags"]


@pytest.fixture
def source(data_source):
    data_source("ds-train", binary_rows(50), ATTRS, "y")
    return "ds-train"


def test_add_overwrite_describe_and_delete(engine, source):
    assert engine.add_tags(
        Tags=[{"Key": "team", "Value": "risk"}, {"Key": "Team", "Value": "x"}], **DS
    ) == {"ResourceId": "ds-train", "ResourceType": "DataSource"}
    engine.add_tags(Tags=[{"Key": "team", "Value": "pricing"}, {"Key": "draft"}], **DS)
    assert _tags(engine, **DS) == [
        {"Key": "Team", "Value": "x"},
        {"Key": "draft"},
        {"Key": "team", "Value": "pricing"},
    ]
    engine.delete_tags(TagKeys=["team", "never-set"], **DS)
    assert _tags(engine, **DS) == [{"Key": "Team", "Value": "x"}, {"Key": "draft"}]


def test_fifty_tags_per_entity(engine, source):
    engine.add_tags(Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)], **DS)
    engine.add_tags(Tags=[{"Key": "k0", "Value": "replaced"}], **DS)
    with pytest.raises(TagLimitExceededException, match="would have 51 tags") as info:
        engine.add_tags(Tags=[{"Key": "one-more"}], **DS)
    assert info.value.code == "TagLimitExceededException"
    assert len(_tags(engine, **DS)) == 50


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ({"Key": ""}, "has 0 characters; it must have 1 to 128"),
        ({"Key": "k" * 129}, "has 129 characters"),
        ({"Key": "v", "Value": "v" * 257}, "it must have 0 to 256"),
        ({"Key": "a#b"}, "holds '#'"),
        ({"Key": "ok", "Value": "semi;colon"}, "holds ';'"),
        ({"Key": "aws:name"}, "reserved"),
        ({"Key": "AWS:name"}, "reserved"),
        ({"Key": 5}, "must be a string"),
    ],
)
def test_invalid_tags(engine, source, tag, message):
    with pytest.raises(InvalidTagException, match=message) as info:
        engine.add_tags(Tags=[tag], **DS)
    assert info.value.code == "InvalidTagException"
    assert _tags(engine, **DS) == []


def test_accepted_characters_and_lengths(engine, source):
    tags = [
        {"Key": "k" * 128, "Value": "v" * 256},
        {"Key": "Größe 値 ٣", "Value": "a_b.c:d/e=f+g-h@i j"},
        {"Key": "empty", "Value": ""},
    ]
    engine.add_tags(Tags=tags, **DS)
    assert _tags(engine, **DS) == sorted(tags, key=lambda t: t["Key"])


def test_delete_tags_checks_keys(engine, source):
    with pytest.raises(InvalidTagException, match="reserved"):
        engine.delete_tags(TagKeys=["aws:x"], **DS)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            {"ResourceId": "ds-train", "ResourceType": "Endpoint"},
            InvalidInputException,
            "ResourceType 'Endpoint' must be one of BatchPrediction",
        ),
        (
            {"ResourceId": "nope", "ResourceType": "MLModel"},
            ResourceNotFoundException,
            "No MLModel has the id 'nope'",
        ),
    ],
)
def test_resource_must_exist(engine, source, call, error, message):
    with pytest.raises(error, match=message):
        engine.add_tags(Tags=[{"Key": "a"}], **call)
    with pytest.raises(error, match=message):
        engine.describe_tags(**call)


def test_request_shape_is_checked(engine, source):
    with pytest.raises(InvalidInputException, match="at most 100 per call"):
        engine.add_tags(Tags=[{"Key": f"k{i}"} for i in range(101)], **DS)
    with pytest.raises(InvalidInputException, match="'Key' and an optional"):
        engine.add_tags(Tags=[{"Name": "x"}], **DS)
    with pytest.raises(InvalidInputException, match="TagKeys must be a list"):
        engine.delete_tags(TagKeys="k", **DS)


def test_tags_of_a_deleted_entity_are_read_only(engine, source):
    engine.add_tags(Tags=[{"Key": "a", "Value": "1"}], **DS)
    engine.delete_data_source(DataSourceId="ds-train")
    assert _tags(engine, **DS) == [{"Key": "a", "Value": "1"}]
    with pytest.raises(InvalidInputException, match="DELETED; its tags cannot"):
        engine.add_tags(Tags=[{"Key": "b"}], **DS)
    with pytest.raises(InvalidInputException, match="DELETED; its tags cannot"):
        engine.delete_tags(TagKeys=["a"], **DS)


def test_tags_are_copied_to_derived_entities(engine, data_source):
    data_source("ds-train", binary_rows(), ATTRS, "y")
    data_source("ds-test", binary_rows(seed=1), ATTRS, "y")
    engine.add_tags(Tags=[{"Key": "source", "Value": "train"}], **DS)
    engine.add_tags(
        Tags=[{"Key": "source", "Value": "test"}, {"Key": "split", "Value": "30"}],
        ResourceId="ds-test",
        ResourceType="DataSource",
    )
    engine.create_ml_model(
        MLModelId="ml", MLModelType="BINARY", TrainingDataSourceId="ds-train"
    )
    assert _tags(engine, "ml", "MLModel") == [{"Key": "source", "Value": "train"}]

    engine.add_tags(
        Tags=[{"Key": "owner", "Value": "ana"}], ResourceId="ml", ResourceType="MLModel"
    )
    engine.create_evaluation(
        EvaluationId="ev", MLModelId="ml", EvaluationDataSourceId="ds-test"
    )
    engine.create_batch_prediction(
        BatchPredictionId="bp",
        MLModelId="ml",
        BatchPredictionDataSourceId="ds-test",
        OutputUri="out",
    )
    derived = [
        {"Key": "owner", "Value": "ana"},
        {"Key": "source", "Value": "train"},
        {"Key": "split", "Value": "30"},
    ]
    assert _tags(engine, "ev", "Evaluation") == derived
    assert _tags(engine, "bp", "BatchPrediction") == derived

    # Copies are made once: later changes stay with their entity.
    engine.delete_tags(TagKeys=["owner"], ResourceId="ml", ResourceType="MLModel")
    assert _tags(engine, "ev", "Evaluation") == derived


def test_copies_keep_the_models_tags_first_up_to_fifty(engine, data_source):
    data_source("ds-train", binary_rows(), ATTRS, "y")
    engine.create_ml_model(
        MLModelId="ml", MLModelType="BINARY", TrainingDataSourceId="ds-train"
    )
    engine.add_tags(
        Tags=[{"Key": f"m{i:02d}"} for i in range(45)],
        ResourceId="ml",
        ResourceType="MLModel",
    )
    engine.add_tags(Tags=[{"Key": f"d{i:02d}"} for i in range(10)], **DS)
    engine.create_evaluation(
        EvaluationId="ev", MLModelId="ml", EvaluationDataSourceId="ds-train"
    )
    keys = [t["Key"] for t in _tags(engine, "ev", "Evaluation")]
    assert len(keys) == 50
    assert keys == [f"d{i:02d}" for i in range(5)] + [f"m{i:02d}" for i in range(45)]
