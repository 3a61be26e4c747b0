"""The COPY and iterator paths of extract write the same bytes."""

import datetime

import pytest
from django.db import connection

from mlpipeline import Pipeline
from mlpipeline.extract import copy_sql, extract
from mlpipeline.schema import layout_for
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
    monkeypatch.setattr("mlpipeline.extract.copy_sql", lambda *args: None)
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


def test_iterator_formats_dates_like_the_formatter(tmp_path):
    class Dates(Pipeline):
        model = HotelBooking
        fields = ["meal", "arrival_date", "is_repeated_guest", "avg_price_per_room"]
        target = "avg_price_per_room"

    booking = HotelBooking.objects.create(
        avg_price_per_room=0.1, lead_time=1, stays_in_weekend_nights=0,
        stays_in_week_nights=1, adults=2, children=0, babies=0, meal="a\nb",
        country="", market_segment="direct", distribution_channel="direct",
        is_repeated_guest=True, previous_cancellations=0,
        previous_bookings_not_canceled=0, reserved_room_type="A",
        assigned_room_type="A", booking_changes=0, agent="", company="",
        days_in_waiting_list=0, customer_type="t",
        required_car_parking_spaces=0, total_of_special_requests=0,
        arrival_date=datetime.date(2017, 3, 4), near_christmas=False,
        near_new_years=False, historical_adr=1.0,
    )  # fmt: skip
    pipeline = Dates()
    path = tmp_path / "rows.csv"

    extract(pipeline, layout_for(pipeline), path, chunk_size=10)

    assert path.read_text().splitlines() == [
        "(primary key),meal,arrival_date,is_repeated_guest,avg_price_per_room",
        f"{booking.pk},a b,2017-03-04,1,0.1",
    ]


@postgres_only
def test_field_types_with_a_sql_rendering_copy_alike(tmp_path, monkeypatch):
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
    assert copy_sql(pipeline.get_queryset(), layout_for(pipeline)) is not None

    copied, iterated = extract_both(pipeline, tmp_path, monkeypatch)

    assert copied == iterated
    assert copied.count(b"\n") == len(texts) + 2
