import datetime
import itertools
import zoneinfo

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlpipeline.schedule import WeeklySchedule, beat_schedule, schedule_for

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = datetime.UTC


def slots(schedule, start, count):
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_slot(moment)
        found.append(moment)
    return found


@pytest.mark.parametrize(
    ("zone", "start", "change"),
    [
        # Europe moves its clocks on the last Sunday of March and October.
        ("Europe/London", datetime.datetime(2026, 3, 10, tzinfo=UTC), "spring"),
        ("Europe/London", datetime.datetime(2026, 10, 10, tzinfo=UTC), "autumn"),
        ("America/New_York", datetime.datetime(2026, 3, 1, tzinfo=UTC), "spring"),
        ("America/New_York", datetime.datetime(2026, 10, 25, tzinfo=UTC), "autumn"),
    ],
)
def test_one_run_a_week_at_the_local_hour_across_a_clock_change(zone, start, change):
    schedule = WeeklySchedule(weekday=6, hour=4, minute=30, timezone=zone)

    found = slots(schedule, start, 6)

    local = [moment.astimezone(zoneinfo.ZoneInfo(zone)) for moment in found]
    assert [(t.weekday(), t.hour, t.minute) for t in local] == [(6, 4, 30)] * 6
    days = [(b.date() - a.date()).days for a, b in itertools.pairwise(local)]
    assert days == [7] * 5
    gaps = {b - a for a, b in itertools.pairwise(found)}
    # The week with the change is an hour shorter or longer in real time.
    hour = datetime.timedelta(hours=1)
    week = datetime.timedelta(days=7)
    assert gaps == {week, week - hour if change == "spring" else week + hour}


def test_a_slot_in_the_skipped_hour_runs_once_that_day():
    # 01:30 does not exist in London on 29 March 2026.
    schedule = WeeklySchedule(weekday=6, hour=1, minute=30, timezone="Europe/London")

    found = slots(schedule, datetime.datetime(2026, 3, 20, tzinfo=UTC), 3)

    assert found == [
        datetime.datetime(2026, 3, 22, 1, 30, tzinfo=UTC),
        datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 02:30 BST
        datetime.datetime(2026, 4, 5, 0, 30, tzinfo=UTC),  # 01:30 BST
    ]


def test_a_slot_in_the_repeated_hour_runs_at_its_first_occurrence():
    # 01:30 happens twice in London on 25 October 2026.
    schedule = WeeklySchedule(weekday=6, hour=1, minute=30, timezone="Europe/London")
    first = datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)

    assert schedule.next_slot(first - datetime.timedelta(seconds=1)) == first
    assert schedule.next_slot(first) == datetime.datetime(
        2026, 11, 1, 1, 30, tzinfo=UTC
    )


def test_is_due_uses_the_last_run_and_says_when_to_look_again():
    now = datetime.datetime(2026, 12, 6, 4, 0, 5, tzinfo=UTC)  # Sunday, GMT
    schedule = WeeklySchedule(
        weekday=6, hour=4, timezone="Europe/London", nowfun=lambda: now
    )

    due, following = schedule.is_due(datetime.datetime(2026, 11, 29, 4, 0, tzinfo=UTC))
    not_due, wait = schedule.is_due(datetime.datetime(2026, 12, 6, 4, 0, tzinfo=UTC))

    assert due is True
    assert following == pytest.approx(7 * 86400 - 5)
    assert not_due is False
    assert wait == pytest.approx(7 * 86400 - 5)


def test_last_slot_is_the_one_just_passed():
    schedule = WeeklySchedule(weekday=0, hour=9, timezone="Europe/London")

    at = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 09:00 GMT

    assert schedule.last_slot(at) == at
    assert schedule.last_slot(
        at - datetime.timedelta(seconds=1)
    ) == at - datetime.timedelta(days=7)


def test_schedules_come_from_settings(settings):
    settings.MLPIPELINE_SCHEDULE = {"weekday": 2, "hour": 3}
    settings.MLPIPELINE_PIPELINE_SCHEDULES = {
        "hotel_rate": None,
        "policy_plan": {"weekday": 0, "hour": 5},
    }

    entries = beat_schedule()

    assert sorted(entries) == [
        "mlpipeline: retrain customer_type",
        "mlpipeline: retrain health_insurance",
        "mlpipeline: retrain policy_plan",
    ]
    assert (
        repr(entries["mlpipeline: retrain policy_plan"]["schedule"])
        == "<weekly: Mon 05:00 Europe/London>"
    )
    assert entries["mlpipeline: retrain customer_type"]["args"] == ("customer_type",)
    assert schedule_for("hotel_rate") is None


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        (
            {"weekday": 7, "hour": 4},
            "weekday must be a whole number from 0 to 6, not 7",
        ),
        (
            {"weekday": 1, "hour": "4"},
            "hour must be a whole number from 0 to 23, not '4'",
        ),
    ],
)
def test_bad_slots_are_refused(settings, slot, message):
    settings.MLPIPELINE_PIPELINE_SCHEDULES = {"policy_plan": slot}

    with pytest.raises(ImproperlyConfigured, match=message):
        schedule_for("policy_plan")


def test_the_nearest_slot_forgives_a_clock_a_little_behind():
    schedule = WeeklySchedule(weekday=6, hour=4, timezone="Europe/London")
    slot = datetime.datetime(2026, 12, 6, 4, 0, tzinfo=UTC)

    assert schedule.nearest_slot(slot - datetime.timedelta(seconds=1)) == slot
    assert schedule.nearest_slot(slot + datetime.timedelta(minutes=5)) == slot
    assert schedule.nearest_slot(
        slot + datetime.timedelta(days=4)
    ) == slot + datetime.timedelta(days=7)
