"""The COPY and iterator paths of extract write the same bytes."""

import datetime

import pytest
from django.db import connection

from mlpipeline import Pipeline
from mlpipeline import extract as extract_module
from mlpipeline.extract import copy_sql, extract, extract_batches
from mlpipeline.schema import layout_for
from mlpipeline.transform import finish, transform, write_features
from project.demo.models import Customer, HotelBooking, Insured, Policy
from project.demo.pipelines import (
    CustomerTypePipeline,
    HealthInsurancePipeline,
    PolicyPlanPipeline,
)

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY needs PostgreSQL"
)

# Every break str.splitlines() knows, alone, doubled, leading and trailing.
AWKWARD = [
    "plain",
    "",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "trailing\n",
    "trailing twice\n\n",
    "\n",
    "crlf\r\nend",
    "cr\rend\r",
    "vt\x0bonly",
    "vt\x0band\nnl",
    "seps\x1c\x1d\x1e\x85\u2028\u2029\x0c\nend",
    "\\.",
    "tab\tand \\N back\\slash",
    " padded ",
    'ünïcödé, "quoted"\n',
]


def fill_demo_tables():
    people = []
    for i, text in enumerate(AWKWARD):
        if text == "\\.":
            continue  # COPY quotes it; tested on its own below
        people.append(
            Insured(
                health=i % 2 == 0,
                age=20 + i,
                limit=i % 3 == 0,
                gender=text[:10],
                insurance=i % 2 == 1,
                married=False,
                selfemp=True,
                family=i,
                region=text[:20],
                ethnicity="cauc",
                education=text[:20],
            )
        )
    Insured.objects.bulk_create(people)
    Policy.objects.bulk_create(
        Policy(number=f"NWM{i:09d}", plan=text or "Term")
        for i, text in enumerate(AWKWARD)
    )
    codes = {f.name: 1 for f in Customer._meta.concrete_fields if f.name != "id"}
    for i in range(3):
        Customer.objects.create(**{**codes, "main_type": "1", "purchase": i == 1})


def extract_both(pipeline, tmp_path, monkeypatch):
    layout = layout_for(pipeline)
    copied, iterated = tmp_path / "copy.csv", tmp_path / "iter.csv"
    rows = extract(pipeline, layout, copied, chunk_size=4)
    monkeypatch.setattr("mlpipeline.extract.copy_sql", lambda *args, **kw: None)
    monkeypatch.setattr("mlpipeline.extract._sqlite_texts", lambda *args: None)
    assert extract(pipeline, layout, iterated, chunk_size=4) == rows
    monkeypatch.undo()
    return copied.read_bytes(), iterated.read_bytes()


@postgres_only
@pytest.mark.parametrize(
    "pipeline_class",
    [HealthInsurancePipeline, PolicyPlanPipeline, CustomerTypePipeline],
)
def test_copy_and_iterator_write_identical_files(pipeline_class, tmp_path, monkeypatch):
    fill_demo_tables()
    pipeline = pipeline_class()
    assert copy_sql(pipeline.get_queryset(), layout_for(pipeline)) is not None

    copied, iterated = extract_both(pipeline, tmp_path, monkeypatch)

    assert copied == iterated
    assert copied.count(b"\n") > 3


@postgres_only
def test_dates_ids_and_relations_render_alike(tmp_path, monkeypatch):
    class Dated(Pipeline):
        model = Policy
        fields = ["id", "number", "plan"]
        target = "plan"

    fill_demo_tables()
    copied, iterated = extract_both(Dated(), tmp_path, monkeypatch)
    assert copied == iterated


@postgres_only
def test_a_lone_end_of_data_marker_falls_back_to_the_iterator(tmp_path):
    first = Policy.objects.create(number="A1", plan="\\.")
    second = Policy.objects.create(number="A2", plan="Term")
    pipeline = PolicyPlanPipeline()

    extract(pipeline, layout_for(pipeline), tmp_path / "rows.csv", chunk_size=10)

    assert (tmp_path / "rows.csv").read_text().splitlines() == [
        "(primary key),number,plan",
        f"{first.pk},A1,\\.",
        f"{second.pk},A2,Term",
    ]


def test_floats_and_datetimes_are_not_copied():
    pipeline = type(
        "Hotel",
        (Pipeline,),
        {
            "model": HotelBooking,
            "fields": ["avg_price_per_room", "meal", "arrival_date"],
            "target": "avg_price_per_room",
        },
    )()
    assert copy_sql(pipeline.get_queryset(), layout_for(pipeline)) is None


def booking(**fields):
    values = dict(
        avg_price_per_room=0.1, lead_time=1, stays_in_weekend_nights=0,
        stays_in_week_nights=1, adults=2, children=0, babies=0, meal="BB",
        country="", market_segment="direct", distribution_channel="direct",
        is_repeated_guest=True, previous_cancellations=0,
        previous_bookings_not_canceled=0, reserved_room_type="A",
        assigned_room_type="A", booking_changes=0, agent="", company="",
        days_in_waiting_list=0, customer_type="t",
        required_car_parking_spaces=0, total_of_special_requests=0,
        arrival_date=datetime.date(2017, 3, 4), near_christmas=False,
        near_new_years=False, historical_adr=1.0,
    )  # fmt: skip
    return HotelBooking.objects.create(**{**values, **fields})


def test_iterator_formats_dates_like_the_formatter(tmp_path):
    class Dates(Pipeline):
        model = HotelBooking
        fields = ["meal", "arrival_date", "is_repeated_guest", "avg_price_per_room"]
        target = "avg_price_per_room"

    made = booking(meal="a\nb")
    pipeline = Dates()
    path = tmp_path / "rows.csv"

    extract(pipeline, layout_for(pipeline), path, chunk_size=10)

    assert path.read_text().splitlines() == [
        "(primary key),meal,arrival_date,is_repeated_guest,avg_price_per_room",
        f"{made.pk},a b,2017-03-04,1,0.1",
    ]


class Arrivals(Pipeline):
    model = HotelBooking
    fields = ["meal", "arrival_date", "is_repeated_guest"]
    target = "meal"


def fill_arrivals():
    for i, day in enumerate([(2017, 3, 4), (99, 1, 2), (1, 1, 1), (9999, 12, 31)]):
        booking(meal=AWKWARD[i + 2], arrival_date=datetime.date(*day))


@postgres_only
def test_copy_writes_dates_as_the_iterator_does(tmp_path, monkeypatch):
    fill_arrivals()
    sql, _ = copy_sql(Arrivals().get_queryset(), layout_for(Arrivals()))

    copied, iterated = extract_both(Arrivals(), tmp_path, monkeypatch)

    assert "::text" in sql
    assert copied == iterated
    assert b",0099-01-02," in copied and b",0001-01-01," in copied


@postgres_only
def test_copy_formats_dates_itself_unless_the_session_writes_iso(tmp_path):
    fill_arrivals()
    with connection.cursor() as cursor:
        cursor.execute("SET DateStyle TO 'SQL, DMY'")
    try:
        sql, _ = copy_sql(Arrivals().get_queryset(), layout_for(Arrivals()))
        extract(Arrivals(), layout_for(Arrivals()), tmp_path / "rows.csv", chunk_size=2)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET DateStyle TO 'ISO, MDY'")

    assert "to_char(" in sql and "::text" not in sql
    lines = (tmp_path / "rows.csv").read_text().splitlines()
    assert [line.split(",")[-2] for line in lines[1:]] == [
        "2017-03-04",
        "0099-01-02",
        "0001-01-01",
        "9999-12-31",
    ]


@pytest.mark.parametrize("path", ["copy", "iterator"])
@pytest.mark.parametrize("pipeline_class", [PolicyPlanPipeline, Arrivals])
def test_batches_from_the_database_expand_to_the_file_transform_writes(
    path, pipeline_class, tmp_path, monkeypatch
):
    """The rows learn takes straight from the database give the features
    files and schema that extracting to a file and transforming it give,
    byte for byte, whichever path reads them."""
    if path == "copy" and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    if path == "iterator":
        monkeypatch.setattr("mlpipeline.extract.copy_sql", lambda *args, **kw: None)
    fill_demo_tables()
    fill_arrivals()
    # Enough rows for both sides of the split, with a target that varies.
    Policy.objects.bulk_create(
        Policy(number=f"XYZ{i:05d}", plan=f"p{i % 3}") for i in range(30)
    )
    for i in range(30):
        booking(meal=f"m{i % 3}", arrival_date=datetime.date(2020, 1, 1 + i % 28))
    pipeline = pipeline_class()
    layout = layout_for(pipeline)
    extract(pipeline, layout, tmp_path / "rows.csv", chunk_size=3)
    expected = transform(layout, tmp_path / "rows.csv", tmp_path / "expected.csv")
    seen = []

    batches = extract_batches(pipeline, layout, chunk_size=3, progress=seen.append)
    result = finish(layout, write_features(layout, batches, tmp_path / "fused.csv"))

    for side in ("train", "evaluation"):
        fused = (tmp_path / f"fused-{side}.csv").read_bytes()
        assert fused == (tmp_path / f"expected-{side}.csv").read_bytes()
    assert (tmp_path / "fused.csv.schema").read_text() == (
        tmp_path / "expected.csv.schema"
    ).read_text()
    extracted = {PolicyPlanPipeline: len(AWKWARD) + 30, Arrivals: 34}[pipeline_class]
    assert result.rows_read == extracted
    assert (result.rows, result.rejected, result.split_rows, result.target_counts) == (
        expected.rows,
        expected.rejected,
        expected.split_rows,
        expected.target_counts,
    )
    assert seen == [extracted]


sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="text casts are SQLite's"
)


@sqlite_only
@pytest.mark.parametrize(
    "pipeline_class",
    [HealthInsurancePipeline, PolicyPlanPipeline, CustomerTypePipeline, Arrivals],
)
def test_sqlite_text_casts_write_what_python_converts(
    pipeline_class, tmp_path, monkeypatch
):
    """Integers, booleans, dates and strings cast to text by SQLite give
    the file that converting them in Python gives."""
    fill_demo_tables()
    fill_arrivals()
    pipeline = pipeline_class()
    columns = layout_for(pipeline).columns
    assert extract_module._sqlite_texts(pipeline.get_queryset(), columns)

    cast, converted = extract_both(pipeline, tmp_path, monkeypatch)

    assert cast == converted
    assert cast.count(b"\n") > 3


@sqlite_only
def test_floats_are_not_cast_to_text_by_sqlite():
    pipeline = type(
        "Hotel",
        (Pipeline,),
        {"model": HotelBooking, "fields": ["avg_price_per_room", "meal"],
         "target": "avg_price_per_room"},
    )()  # fmt: skip
    columns = layout_for(pipeline).columns
    assert extract_module._sqlite_texts(pipeline.get_queryset(), columns) is None


def test_field_types_with_a_sql_rendering_copy_alike(tmp_path, monkeypatch):
    """On PostgreSQL the COPY, on SQLite the text casts, give the file the
    iterator's conversions in Python give, for every field type they take."""
    from tests.fieldzoo.models import Keeper, Specimen

    class Zoo(Pipeline):
        model = Specimen
        fields = [
            "char", "char_null", "text", "email", "slug", "url", "integer", "big",
            "small", "positive", "positive_small", "positive_big", "flag", "maybe",
            "answer", "size", "level", "day", "keeper", "profile", "kind",
        ]  # fmt: skip
        target = "kind"

    keeper = Keeper.objects.create(name="k")
    # Without "\\.", which COPY quotes; the file would come from the iterator.
    texts = [text for text in AWKWARD if text != "\\."]
    for i, text in enumerate(texts):
        Specimen.objects.create(
            char=text, char_null=text or None, text=text, email=text[:5],
            slug="s", url=text, integer=-i, big=2**62 + i, small=-i,
            positive=i, positive_small=i, positive_big=2**63 - 1 - i,
            flag=i % 2 == 0, maybe=[None, True, False][i % 3],
            answer=["yes", "no", ""][i % 3], size="sml"[i % 3], level=i % 3 + 1,
            day=datetime.date(2024, 1, 1) + datetime.timedelta(days=i),
            keeper=keeper if i % 2 else None, profile=keeper if i == 3 else None,
            kind=text[:10] or "k",
        )  # fmt: skip
    Specimen.objects.create(kind="nulls")
    pipeline = Zoo()
    queryset, columns = pipeline.get_queryset(), layout_for(pipeline).columns
    if connection.vendor == "postgresql":
        assert copy_sql(queryset, layout_for(pipeline)) is not None
    else:
        assert extract_module._sqlite_texts(queryset, columns) is not None

    copied, iterated = extract_both(pipeline, tmp_path, monkeypatch)

    assert copied == iterated
    assert copied.count(b"\n") == len(texts) + 2
