import csv

import pytest

from mlpipeline import Pipeline
from mlpipeline.exceptions import DataError
from mlpipeline.extract import extract
from mlpipeline.schema import layout_for
from project.demo.models import HotelBooking, Insured

pytestmark = pytest.mark.django_db


def make_insured(**values):
    defaults = dict(
        health=True, age=40, limit=False, gender="female", insurance=True,
        married=False, selfemp=False, family=3, region="south",
        ethnicity="cauc", education="ged",
    )  # fmt: skip
    return Insured.objects.create(**{**defaults, **values})


class InsurancePipeline(Pipeline):
    model = Insured
    fields = ["age", "gender", "married", "insurance"]
    target = "insurance"


def read(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_extract_writes_header_and_rows_in_primary_key_order(tmp_path):
    second = make_insured(age=61, gender="male", married=True)
    first = make_insured(age=23, insurance=False)
    assert first.pk > second.pk
    path = tmp_path / "rows.csv"
    pipeline = InsurancePipeline()

    count = extract(pipeline, layout_for(pipeline), path, chunk_size=1)

    assert count == 2
    assert read(path) == [
        ["(primary key)", "age", "gender", "married", "insurance"],
        [str(second.pk), "61", "male", "1", "1"],
        [str(first.pk), "23", "female", "0", "0"],
    ]


def test_extract_formats_missing_values_floats_and_line_breaks(tmp_path):
    class Hotel(Pipeline):
        model = HotelBooking
        fields = ["country", "historical_adr", "agent", "avg_price_per_room"]
        target = "avg_price_per_room"

    booking = HotelBooking.objects.create(
        avg_price_per_room=80.5, lead_time=1, stays_in_weekend_nights=0,
        stays_in_week_nights=1, adults=2, children=0, babies=0, meal="none",
        country="", market_segment="direct", distribution_channel="direct",
        is_repeated_guest=False, previous_cancellations=0,
        previous_bookings_not_canceled=0, reserved_room_type="a",
        assigned_room_type="a", booking_changes=0, agent="first\nsecond, third",
        company="none", days_in_waiting_list=0, customer_type="transient",
        required_car_parking_spaces=0, total_of_special_requests=0,
        arrival_date="2016-07-02", near_christmas=False, near_new_years=False,
        historical_adr=0.1,
    )  # fmt: skip
    path = tmp_path / "rows.csv"
    pipeline = Hotel()

    extract(pipeline, layout_for(pipeline), path, chunk_size=100)

    assert read(path)[1] == [str(booking.pk), "", "0.1", "first second, third", "80.5"]
    assert path.read_text().count("\n") == 2


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "1"),
        (False, "0"),
        (0.1, "0.1"),
        (12, "12"),
        ("a\r\nb", "a b"),
    ],
)
def test_cells_are_formatted_for_amazon_ml(value, cell):
    (format_cell, *_) = layout_for(InsurancePipeline()).formatters

    assert format_cell(value) == cell


def test_extract_calls_the_row_method_when_defined(tmp_path):
    class Derived(InsurancePipeline):
        fields = ["age_band", "insurance"]
        attribute_types = {"age_band": "CATEGORICAL"}

        def row(self, insured):
            return [f"{insured.age // 10 * 10}s", insured.insurance]

    insured = make_insured(age=47)
    path = tmp_path / "rows.csv"
    pipeline = Derived()

    extract(pipeline, layout_for(pipeline), path, chunk_size=10)

    # The primary key comes along, for the evaluation split.
    assert read(path) == [
        ["(primary key)", "age_band", "insurance"],
        [str(insured.pk), "40s", "1"],
    ]


def test_row_method_with_wrong_width_names_the_row(tmp_path):
    class Broken(InsurancePipeline):
        name = "broken"

        def row(self, insured):
            return [insured.age]

    insured = make_insured()
    pipeline = Broken()

    with pytest.raises(
        DataError, match=rf"'broken': row\(\) returned 1 values .*pk {insured.pk}"
    ):
        extract(pipeline, layout_for(pipeline), tmp_path / "rows.csv", chunk_size=10)


def test_progress_is_reported_with_the_final_count(tmp_path):
    for age in range(5):
        make_insured(age=age)
    seen = []
    pipeline = InsurancePipeline()

    extract(
        pipeline,
        layout_for(pipeline),
        tmp_path / "r.csv",
        chunk_size=2,
        progress=seen.append,
    )

    assert seen == [5]


def test_aware_datetimes_are_written_in_the_current_time_zone(settings):
    import datetime

    settings.TIME_ZONE = "Europe/Lisbon"
    (format_cell, *_) = layout_for(InsurancePipeline()).formatters
    moment = datetime.datetime(2024, 6, 30, 23, 30, tzinfo=datetime.UTC)

    assert format_cell(moment) == "2024-07-01T00:30:00+01:00"
