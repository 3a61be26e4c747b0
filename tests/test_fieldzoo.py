"""Every field type a model may have reaches the engine as it was stored."""

import datetime
import decimal
import uuid

import pytest

from mlpipeline import Pipeline
from mlpipeline.engine.values import INVALID, MISSING, parse_column
from mlpipeline.extract import extract
from mlpipeline.learn import learn
from mlpipeline.schema import layout_for
from mlpipeline.serving import predict
from mlpipeline.transform import transform
from tests.features import engine_records
from tests.fieldzoo.models import Keeper, Specimen

HANDLED = [
    "char", "char_null", "text", "email", "slug", "url", "ip", "integer", "big",
    "small", "positive", "positive_small", "positive_big", "floating", "decimal",
    "flag", "maybe", "answer", "size", "level", "day", "moment", "clock",
    "duration", "uuid", "code", "keeper", "profile", "kind", "score",
]  # fmt: skip


class ZooPipeline(Pipeline):
    name = "zoo"
    model = Specimen
    fields = HANDLED
    target = "kind"


def test_each_handled_field_type_has_its_amazon_ml_type():
    layout = layout_for(ZooPipeline())

    assert layout.attributes == [
        ("char", "CATEGORICAL"), ("char_null", "CATEGORICAL"), ("text", "TEXT"),
        ("email", "CATEGORICAL"), ("slug", "CATEGORICAL"), ("url", "CATEGORICAL"),
        ("ip", "CATEGORICAL"), ("integer", "NUMERIC"), ("big", "NUMERIC"),
        ("small", "NUMERIC"), ("positive", "NUMERIC"), ("positive_small", "NUMERIC"),
        ("positive_big", "NUMERIC"), ("floating", "NUMERIC"), ("decimal", "NUMERIC"),
        ("flag", "BINARY"), ("maybe", "BINARY"), ("answer", "BINARY"),
        ("size", "CATEGORICAL"), ("level", "CATEGORICAL"),
        ("day_year", "NUMERIC"), ("day_month", "CATEGORICAL"),
        ("day_weekday", "CATEGORICAL"), ("moment_year", "NUMERIC"),
        ("moment_month", "CATEGORICAL"), ("moment_weekday", "CATEGORICAL"),
        ("clock_hour", "CATEGORICAL"), ("clock_minute", "NUMERIC"),
        ("duration", "NUMERIC"), ("uuid", "CATEGORICAL"), ("code", "CATEGORICAL"),
        ("keeper", "CATEGORICAL"), ("profile", "CATEGORICAL"),
        ("kind", "CATEGORICAL"), ("score", "NUMERIC"),
    ]  # fmt: skip
    assert layout.model_type == "MULTICLASS"


def test_unique_columns_become_the_row_id_or_are_excluded():
    layout = layout_for(ZooPipeline())
    assert (layout.row_id, layout.excluded) == ("uuid", ["profile"])

    with_id = type("WithId", (ZooPipeline,), {"fields": ["id", *HANDLED]})
    layout = layout_for(with_id())
    assert (layout.row_id, layout.excluded) == ("id", ["uuid", "profile"])

    declared = type("Declared", (ZooPipeline,), {"row_id": "code"})
    layout = layout_for(declared())
    assert (layout.row_id, layout.excluded) == ("code", ["uuid", "profile"])


def test_an_expanded_unique_column_is_a_feature():
    from mlpipeline import LongIdExpander

    expanded = type(
        "Expanded",
        (ZooPipeline,),
        {"fields": ["uuid", "kind"], "expanders": [LongIdExpander("uuid", digits=40)]},
    )

    layout = layout_for(expanded())

    assert (layout.row_id, layout.excluded) == (None, [])


KEEPER_ID = 41
STORED = dict(
    char='a,b "c"\ttab ünï 😀', char_null=None, text="line one\nline two\r\n",
    email="x@example.com", slug="a-slug", url="https://example.com/a?b=1,2",
    ip="2001:db8::1", integer=-5, big=2**62, small=-32768, positive=7,
    positive_small=3, positive_big=2**63 - 1, floating=0.1,
    decimal=decimal.Decimal("12345.6789"), flag=True, maybe=None, answer="yes",
    size="m", level=2, day=datetime.date(2024, 2, 29),
    moment=datetime.datetime(2024, 6, 30, 23, 30, tzinfo=datetime.UTC),
    clock=datetime.time(14, 30, 15), duration=datetime.timedelta(hours=1, minutes=30),
    uuid=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    code=uuid.UUID("87654321-4321-8765-4321-876543218765"),
    keeper_id=KEEPER_ID, profile_id=KEEPER_ID, kind="a", score=1.5,
)  # fmt: skip
CELLS = [
    'a,b "c"\ttab ünï 😀', "", "line one line two", "x@example.com", "a-slug",
    "https://example.com/a?b=1,2", "2001:db8::1", "-5", str(2**62), "-32768", "7",
    "3", str(2**63 - 1), "0.1", "12345.6789", "1", "", "yes", "m", "2",
    "2024", "2", "4",  # a Thursday
    "2024", "7", "1",  # 00:30 on Monday 1 July in London
    "14", "870", "5400.0", "12345678-1234-5678-1234-567812345678",
    "87654321-4321-8765-4321-876543218765", "41", "41", "a", "1.5",
]  # fmt: skip
EMPTY_CELLS = [
    "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "0", "", "", "",
    "", "", "", "", "", "", "", "", "", "", "00000000-0000-0000-0000-000000000000",
    "", "", "", "b", "0.0",
]  # fmt: skip


def extract_and_transform(pipeline, tmp_path):
    layout = layout_for(pipeline)
    rows, features = tmp_path / "rows.csv", tmp_path / "features.csv"
    extracted = extract(pipeline, layout, rows, chunk_size=7)
    result = transform(layout, rows, features)
    assert extracted == result.rows_read == result.rows
    return engine_records(layout, rows, features)


@pytest.mark.django_db
def test_every_handled_type_reaches_the_engine_as_stored(tmp_path):
    Keeper.objects.create(pk=KEEPER_ID, name="keeper")
    Specimen.objects.create(**STORED)
    Specimen.objects.create(uuid=uuid.UUID(int=0), kind="b")
    Specimen.objects.bulk_create(Specimen(kind="ab"[i % 2], score=i) for i in range(16))

    schema, rows = extract_and_transform(ZooPipeline(), tmp_path)

    assert len(rows) == 18
    assert rows[0] == CELLS
    assert rows[1] == EMPTY_CELLS
    # Every number and truth value parses; blanks are missing, not invalid.
    for position, attribute in enumerate(schema.attributes):
        column = parse_column([row[position] for row in rows[:2]], attribute.type)
        assert INVALID not in column.status, attribute.name
    blanks = parse_column([rows[1][7]], "NUMERIC")
    assert (schema.attributes[7].type, list(blanks.status)) == ("NUMERIC", [MISSING])


@pytest.mark.django_db
def test_line_breaks_fold_alike_for_training_and_prediction():
    class Breaks(Pipeline):
        name = "breaks"
        model = Specimen
        fields = ["char", "kind"]
        target = "kind"

    Specimen.objects.bulk_create(
        Specimen(char="first\nsecond" if i % 2 else "third", kind="ab"[i % 2])
        for i in range(60)
    )

    run = learn(Breaks())

    assert run.status == run.Status.SUCCEEDED
    assert predict("breaks", {"char": "first\nsecond"})["predictedLabel"] == "b"
    assert predict("breaks", {"char": "first second"})["predictedLabel"] == "b"
    assert predict("breaks", {"char": "third"})["predictedLabel"] == "a"
