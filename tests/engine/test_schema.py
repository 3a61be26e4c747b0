import json

import pytest

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.schema import parse_schema

from .conftest import schema_json

ATTRS = [("id", "CATEGORICAL"), ("age", "NUMERIC"), ("note", "TEXT"), ("y", "BINARY")]


def test_parse_and_emit_current_spelling():
    schema = parse_schema(schema_json(ATTRS, target="y", header=True, rowId="id"))
    assert schema.target == "y" and schema.row_id == "id" and schema.has_header
    assert [a.name for a in schema.inputs] == ["age", "note"]
    assert json.loads(schema.to_json()) == {
        "version": "1.0",
        "rowId": "id",
        "rowWeight": None,
        "targetAttributeName": "y",
        "dataFormat": "CSV",
        "dataFileContainsHeader": True,
        "attributes": [{"attributeName": n, "attributeType": t} for n, t in ATTRS],
        "excludedAttributeNames": [],
    }
    assert " " not in schema.to_json()


def test_legacy_aliases_are_accepted_and_emitted_in_current_spelling():
    legacy = {
        "version": "1.0",
        "targetFieldName": "y",
        "recordAnnotationFieldName": "id",
        "dataFormat": "CSV",
        "dataFileContainsHeader": "false",
        "variables": [{"fieldName": n, "fieldType": t} for n, t in ATTRS],
        "excludedVariableNames": ["note"],
    }
    schema = parse_schema(json.dumps(legacy))
    assert (schema.target, schema.row_id, schema.excluded) == ("y", "id", ("note",))
    emitted = json.loads(schema.to_json())
    assert emitted["targetAttributeName"] == "y"
    assert emitted["excludedAttributeNames"] == ["note"]
    assert "variables" not in emitted and "targetFieldName" not in emitted


def test_excluded_row_weight_and_target_are_not_inputs():
    schema = parse_schema(
        schema_json(ATTRS, target="y", rowWeight="age", excludedAttributeNames=["id"])
    )
    assert [a.name for a in schema.inputs] == ["note"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": "2.0"}, "'version'"),
        ({"dataFormat": "JSON"}, "'dataFormat'"),
        ({"targetAttributeName": "zzz"}, "not a declared attribute"),
        ({"rowId": "zzz"}, "not a declared attribute"),
        ({"excludedAttributeNames": ["y"]}, "may not be excluded"),
        ({"rowId": "y"}, "rowId or rowWeight"),
        ({"attributes": []}, "non-empty list"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"dataFileContainsHeader": "maybe"}, "dataFileContainsHeader"),
        ({"targetFieldName": "age"}, "conflicts"),
    ],
)
def test_schema_rule_violations(changes, message):
    doc = json.loads(schema_json(ATTRS, target="y"))
    doc.update(changes)
    with pytest.raises(InvalidInputException, match=message):
        parse_schema(json.dumps(doc))


def test_duplicate_names_and_bad_types_are_rejected():
    with pytest.raises(InvalidInputException, match="declared twice"):
        parse_schema(schema_json([("a", "TEXT"), ("a", "TEXT")]))
    with pytest.raises(InvalidInputException, match="unsupported type 'DATE'"):
        parse_schema(schema_json([("a", "DATE")]))
    with pytest.raises(InvalidInputException, match="WEIGHTED_INT_SEQUENCE"):
        parse_schema(schema_json([("a", "WEIGHTED_INT_SEQUENCE")]))
    with pytest.raises(InvalidInputException, match="non-empty string"):
        parse_schema(schema_json([("", "TEXT")]))


def test_limits_and_bad_json():
    with pytest.raises(InvalidInputException, match="at most 1000"):
        parse_schema(schema_json([(f"a{i}", "NUMERIC") for i in range(1001)]))
    assert (
        len(
            parse_schema(
                schema_json([(f"a{i}", "NUMERIC") for i in range(1000)])
            ).attributes
        )
        == 1000
    )
    with pytest.raises(InvalidInputException, match="not valid JSON"):
        parse_schema("{")
    with pytest.raises(InvalidInputException, match="131071"):
        parse_schema(" " * 131072)
