import json

import pytest

from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.recipe import (
    Call,
    Name,
    Number,
    expression_text,
    parse_expression,
    parse_recipe,
    suggest_recipe,
)
from mlpipeline.engine.schema import parse_schema

from .conftest import schema_json

SCHEMA = parse_schema(
    schema_json(
        [
            ("fare", "NUMERIC"),
            ("parch", "NUMERIC"),
            ("sibsp", "NUMERIC"),
            ("age", "NUMERIC"),
            ("sex", "CATEGORICAL"),
            ("job", "CATEGORICAL"),
            ("vip", "BINARY"),
            ("subject", "TEXT"),
            ("survived", "BINARY"),
            ("ticket", "CATEGORICAL"),
        ],
        target="survived",
        excludedAttributeNames=["ticket"],
    )
)


def _outputs(recipe: dict) -> list[str]:
    return parse_recipe(json.dumps(recipe), SCHEMA).output_names


def test_suggested_recipe_follows_the_bin_rule():
    distinct = {"fare": 900, "parch": 7, "sibsp": 300, "age": 88}
    text = suggest_recipe(SCHEMA, 3000, distinct)
    doc = json.loads(text)
    assert list(doc) == ["groups", "assignments", "outputs"]
    assert doc["groups"] == {
        "NUMERIC_VARS_QB_200": "group('fare','sibsp')",
        "NUMERIC_VARS_QB_50": "group('age')",
        "NUMERIC_VARS_QB_10": "group('parch')",
    }
    assert doc["outputs"] == [
        "ALL_BINARY",
        "ALL_CATEGORICAL",
        "quantile_bin(NUMERIC_VARS_QB_200,200)",
        "quantile_bin(NUMERIC_VARS_QB_50,50)",
        "quantile_bin(NUMERIC_VARS_QB_10,10)",
        "ALL_TEXT",
    ]
    assert suggest_recipe(SCHEMA, 3000, dict(distinct)) == text


def test_suggested_recipe_bins_depend_on_row_count():
    doc = json.loads(suggest_recipe(SCHEMA, 60000, {"fare": 5000, "parch": 12}))
    assert "NUMERIC_VARS_QB_500" in doc["groups"]
    assert doc["groups"]["NUMERIC_VARS_QB_10"] == "group('parch','sibsp','age')"


def test_suggested_recipe_only_names_types_present():
    schema = parse_schema(
        schema_json([("a", "CATEGORICAL"), ("y", "CATEGORICAL")], "y")
    )
    doc = json.loads(suggest_recipe(schema, 100, {}))
    assert doc == {"groups": {}, "assignments": {}, "outputs": ["ALL_CATEGORICAL"]}


def test_suggested_recipe_parses_against_its_schema():
    text = suggest_recipe(
        SCHEMA, 3000, {"fare": 900, "parch": 7, "sibsp": 3, "age": 88}
    )
    names = parse_recipe(text, SCHEMA).output_names
    assert "quantile_bin(fare,200)" in names and "subject" in names
    assert "ticket" not in names and "survived" not in names


def test_builtin_groups_and_raw_names():
    assert _outputs({"outputs": ["ALL_BINARY", "ALL_TEXT", "fare"]}) == [
        "vip",
        "subject",
        "fare",
    ]
    assert _outputs({"outputs": ["ALL_INPUTS"]}) == [
        "fare",
        "parch",
        "sibsp",
        "age",
        "sex",
        "job",
        "vip",
        "subject",
    ]


def test_groups_group_remove_and_functions_over_groups():
    recipe = {
        "groups": {
            "money": "group(fare, 'parch')",
            "rest": "group_remove(ALL_NUMERIC, money)",
        },
        "assignments": {"words": "lowercase(no_punct(subject))"},
        "outputs": [
            "quantile_bin(money, 5)",
            "normalize(rest)  // scaled",
            "ngram(words, 2)",
            "osb(subject, 3)",
            "cartesian(sex, job)",
        ],
    }
    assert _outputs(recipe) == [
        "quantile_bin(fare,5)",
        "quantile_bin(parch,5)",
        "normalize(sibsp)",
        "normalize(age)",
        "ngram(lowercase(no_punct(subject)),2)",
        "osb(subject,3)",
        "cartesian(sex,job)",
    ]


def test_outputs_are_deduplicated_and_dependencies_tolerated():
    recipe = {"outputs": ["sex", "ALL_CATEGORICAL"], "dependencies": {}}
    assert _outputs(recipe) == ["sex", "job"]


def test_cartesian_of_binned_numeric_and_categorical():
    assert _outputs({"outputs": ["cartesian(quantile_bin(age,10), sex)"]}) == [
        "cartesian(quantile_bin(age,10),sex)"
    ]


def test_expression_text_round_trips_quoted_names():
    expr = Call("ngram", (Call("lowercase", (Name("2nd (raw)"),)), Number(3)))
    text = expression_text(expr)
    assert text == "ngram(lowercase('2nd (raw)'),3)"
    assert parse_expression(text) == expr
    assert expression_text(Name("it's")) == '"it\'s"'


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"groups": {}}, "'outputs' must be a non-empty list"),
        ({"outputs": []}, "'outputs' must be a non-empty list"),
        ({"outputs": ["log(fare)"]}, "unknown function 'log'"),
        ({"outputs": ["colour"]}, "unknown variable 'colour'"),
        ({"outputs": ["survived"]}, "target, rowId"),
        ({"outputs": ["ticket"]}, "target, rowId"),
        (
            {"outputs": ["quantile_bin(subject, 10)"]},
            "does not accept 'subject' of type TEXT",
        ),
        ({"outputs": ["normalize(sex)"]}, "of type CATEGORICAL"),
        ({"outputs": ["ngram(sex, 2)"]}, "of type CATEGORICAL"),
        ({"outputs": ["cartesian(fare, sex)"]}, "of type NUMERIC"),
        ({"outputs": ["ngram(subject, 11)"]}, "between 2 and 10, got 11"),
        ({"outputs": ["ngram(subject, 1)"]}, "between 2 and 10, got 1"),
        ({"outputs": ["osb(subject, 12)"]}, "between 2 and 10"),
        ({"outputs": ["quantile_bin(fare, 4)"]}, "between 5 and 1000, got 4"),
        ({"outputs": ["quantile_bin(fare, 1001)"]}, "between 5 and 1000"),
        ({"outputs": ["quantile_bin(fare)"]}, "takes 2 argument"),
        ({"outputs": ["lowercase(subject, 2)"]}, "takes 1 argument"),
        ({"outputs": ["2nd"]}, "must start with a letter or be quoted"),
        ({"outputs": ["group(fare)"]}, "may only define a group"),
        ({"outputs": ["ngram(subject 2)"]}, "takes 2 argument"),
        ({"outputs": ["ngram(subject, 2) x"]}, "unexpected"),
        ({"outputs": ["ngram(subject, 2"]}, "missing ')'"),
        ({"outputs": ["  // only a comment"]}, "is empty"),
        ({"outputs": ["ALL_TEXT"], "groups": {}}, "sections must appear"),
        ({"outputs": ["fare"], "extras": {}}, "unknown section 'extras'"),
        (
            {"groups": {"1st": "group(fare)"}, "outputs": ["fare"]},
            "must start with a letter",
        ),
        ({"groups": {"g" * 65: "group(fare)"}, "outputs": ["fare"]}, "at most 64"),
        ({"groups": {"a(b": "group(fare)"}, "outputs": ["fare"]}, "needs quoting"),
        ({"groups": {"fare": "group(age)"}, "outputs": ["fare"]}, "already a variable"),
        (
            {"groups": {"g": "group(ALL_INPUTS)"}, "outputs": ["g"]},
            "ALL_INPUTS may not",
        ),
        (
            {"groups": {"g": "lowercase(sex)"}, "outputs": ["g"]},
            "group() or group_remove()",
        ),
        ({"outputs": ["'unterminated"]}, "unterminated"),
    ],
)
def test_invalid_recipes(recipe, message):
    with pytest.raises(
        InvalidInputException, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_recipe(json.dumps(recipe), SCHEMA)


def test_recipe_must_be_json_object():
    with pytest.raises(InvalidInputException, match="not valid JSON"):
        parse_recipe("{outputs: []}", SCHEMA)
    with pytest.raises(InvalidInputException, match="JSON object"):
        parse_recipe("[]", SCHEMA)


def test_output_limit_of_ten_thousand():
    names = [(f"c{i}", "CATEGORICAL") for i in range(150)]
    schema = parse_schema(schema_json(names))
    recipe = {"outputs": ["cartesian(ALL_CATEGORICAL, ALL_CATEGORICAL)"]}
    with pytest.raises(InvalidInputException, match="more than 10000 output"):
        parse_recipe(json.dumps(recipe), schema)
    small = parse_schema(schema_json(names[:100]))
    assert len(parse_recipe(json.dumps(recipe), small).outputs) == 100 * 99


def test_recipe_comment_inside_quotes_is_kept():
    schema = parse_schema(schema_json([("a//b", "CATEGORICAL")]))
    recipe = {"outputs": ["'a//b' // the raw value"]}
    assert parse_recipe(json.dumps(recipe), schema).output_names == ["a//b"]
