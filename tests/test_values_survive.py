"""Property: any supported value survives extract, transform and the engine.

Rows of :class:`~tests.fieldzoo.models.Specimen` with drawn values are
stored, extracted (COPY or the iterator, whichever the database takes),
transformed and read by the engine's CSV reader; every record comes back
once, in order, each cell the stored value as Amazon ML reads it: text
unchanged but for line breaks folded to a space, numbers as written by
Python, truth values as 1/0, dates as their parts, blanks for NULL.
"""

import csv
import datetime
import io
import tempfile
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpipeline import Pipeline
from mlpipeline.engine.csvio import ReadReport, read_records
from mlpipeline.engine.schema import parse_schema
from mlpipeline.engine.split import Rearrangement
from mlpipeline.extract import extract
from mlpipeline.schema import format_value, layout_for
from mlpipeline.transform import transform
from tests.features import engine_records as read_back
from tests.fieldzoo.models import Specimen

pytestmark = pytest.mark.django_db

# PostgreSQL's text holds no NUL, and no string holds a lone surrogate.
TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=60,
)
SPECIMEN = st.fixed_dictionaries(
    {
        "char": TEXT,
        "char_null": st.none() | TEXT,
        "text": TEXT,
        "integer": st.none() | st.integers(-(2**31), 2**31 - 1),
        "floating": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "decimal": st.none() | st.decimals(-(10**9), 10**9, places=4, allow_nan=False),
        "maybe": st.none() | st.booleans(),
        "day": st.none() | st.dates(datetime.date(1900, 1, 1)),
        "moment": st.none()
        | st.datetimes(
            datetime.datetime(1950, 1, 1), datetime.datetime(2100, 1, 1)
        ).map(lambda moment: moment.replace(tzinfo=datetime.UTC)),
    }
)
FIELDS = [
    "char", "char_null", "text", "integer", "floating", "decimal", "maybe",
    "day", "moment", "kind",
]  # fmt: skip


class ValuesPipeline(Pipeline):
    name = "values"
    model = Specimen
    fields = FIELDS
    target = "kind"


def folded(text: str) -> str:
    """Return ``text`` as Amazon ML gets it: one line, breaks as spaces."""
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def parts(day: datetime.date | None) -> list[str]:
    if day is None:
        return ["", "", ""]
    return [str(day.year), str(day.month), str(day.isoweekday())]


def expected_cells(specimen: Specimen) -> list[str]:
    local = specimen.moment and timezone.localtime(specimen.moment).date()
    return [
        folded(specimen.char),
        folded(specimen.char_null or ""),
        folded(specimen.text),
        "" if specimen.integer is None else str(specimen.integer),
        "" if specimen.floating is None else repr(specimen.floating),
        "" if specimen.decimal is None else str(specimen.decimal),
        {None: "", True: "1", False: "0"}[specimen.maybe],
        *parts(specimen.day),
        *parts(local),
        specimen.kind,
    ]


def engine_records(folder: Path) -> list[list[str]]:
    pipeline = ValuesPipeline()
    layout = layout_for(pipeline)
    rows, features = folder / "rows.csv", folder / "features.csv"
    extracted = extract(pipeline, layout, rows, chunk_size=5)
    result = transform(layout, rows, features)
    assert extracted == result.rows == result.rows_read
    return read_back(layout, rows, features)[1]


@settings(max_examples=40)
@given(values=st.lists(SPECIMEN, min_size=17, max_size=30))
def test_stored_values_reach_the_engine_unchanged(values):
    with transaction.atomic(), tempfile.TemporaryDirectory() as folder:
        Specimen.objects.bulk_create(
            Specimen(**value, kind="ab"[i % 2]) for i, value in enumerate(values)
        )
        stored = list(Specimen.objects.order_by("pk"))

        records = engine_records(Path(folder))

        assert records == [expected_cells(specimen) for specimen in stored]
        transaction.set_rollback(True)


@given(value=TEXT | st.integers() | st.floats(allow_nan=False) | st.booleans())
def test_a_prediction_sends_the_engine_what_training_wrote(value):
    # Training writes the formatted value through the CSV writer and the
    # engine reads the file; a prediction sends the formatted value as it is.
    sent = format_value(value)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["value", "kind"], [sent, "a"]])
    schema = parse_schema(
        '{"dataFileContainsHeader": true, "attributes": ['
        '{"attributeName": "value", "attributeType": "CATEGORICAL"}, '
        '{"attributeName": "kind", "attributeType": "CATEGORICAL"}]}'
    )
    data = out.getvalue().encode("utf-8")

    batches = read_records(
        lambda: io.BytesIO(data), schema, Rearrangement(), ReadReport()
    )

    assert [row for batch in batches for row in batch] == [[sent, "a"]]
    if isinstance(value, str):
        assert sent == folded(value)
