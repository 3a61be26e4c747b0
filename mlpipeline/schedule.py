"""The weekly schedule: when each pipeline retrains, as Celery beat entries.

A :class:`WeeklySchedule` names a weekday and a wall-clock time in the
project's TIME_ZONE. Its slots are computed from the calendar, not by
adding seven days, so a daylight-saving change moves no slot off its local
hour; a slot whose local time does not exist that day (the hour skipped in
spring) runs at the same distance after midnight on the new offset, and one
whose local time happens twice (autumn) runs at the first. Celery beat asks
:meth:`WeeklySchedule.is_due` with the time of the last run, so the next
slot is always the first one after it: no week is skipped or repeated.

Settings: ``MLPIPELINE_SCHEDULE`` is the default slot
(``{"weekday": 6, "hour": 4, "minute": 0}``: Sunday 04:00, after the
night's clock changes in Europe and America), and
``MLPIPELINE_PIPELINE_SCHEDULES`` maps a pipeline to its own slot, or to
None to leave it off the schedule.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from celery.schedules import BaseSchedule, schedstate
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from mlpipeline.conf import settings
from mlpipeline.pipeline import site

__all__ = ["WeeklySchedule", "beat_schedule", "check_schedules", "schedule_for"]

_WEEK = datetime.timedelta(days=7)


class WeeklySchedule(BaseSchedule):
    """Once a week on ``weekday`` (0 = Monday) at ``hour``:``minute`` local."""

    def __init__(
        self,
        weekday: int,
        hour: int,
        minute: int = 0,
        timezone: str | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value, top in (
            ("weekday", weekday, 6),
            ("hour", hour, 23),
            ("minute", minute, 59),
        ):
            if not isinstance(value, int) or not 0 <= value <= top:
                raise ImproperlyConfigured(
                    f"A weekly schedule's {name} must be a whole number from 0 to "
                    f"{top}, not {value!r}."
                )
        self.weekday, self.hour, self.minute = weekday, hour, minute
        self.timezone = timezone or django_settings.TIME_ZONE
        self.zone = zoneinfo.ZoneInfo(self.timezone)
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[self.weekday]
        return f"<weekly: {day} {self.hour:02d}:{self.minute:02d} {self.timezone}>"

    def __reduce__(self) -> tuple:
        return (
            self.__class__,
            (self.weekday, self.hour, self.minute, self.timezone),
        )

    def _slot_on(self, day: datetime.date) -> datetime.datetime:
        local = datetime.datetime.combine(
            day, datetime.time(self.hour, self.minute), tzinfo=self.zone
        )
        # zoneinfo reads a missing local time with the offset before the
        # change and an ambiguous one as its first occurrence (fold=0).
        return local.astimezone(datetime.UTC)

    def next_slot(self, after: datetime.datetime) -> datetime.datetime:
        """Return the first slot strictly after the aware time ``after``."""
        day = after.astimezone(self.zone).date() - datetime.timedelta(days=1)
        day += datetime.timedelta(days=(self.weekday - day.weekday()) % 7)
        while (slot := self._slot_on(day)) <= after:
            day += _WEEK
        return slot

    def nearest_slot(self, at: datetime.datetime) -> datetime.datetime:
        """Return the slot nearest the aware time ``at``, before or after.

        A worker names the slot that beat fired for by its own clock, which
        may run a little behind beat's: the nearest slot is the right one.
        """
        last, following = self.last_slot(at), self.next_slot(at)
        return last if at - last <= following - at else following

    def last_slot(self, at: datetime.datetime) -> datetime.datetime:
        """Return the latest slot at or before the aware time ``at``."""
        day = at.astimezone(self.zone).date() + datetime.timedelta(days=1)
        day -= datetime.timedelta(days=(day.weekday() - self.weekday) % 7)
        while (slot := self._slot_on(day)) > at:
            day -= _WEEK
        return slot

    def remaining_estimate(self, last_run_at: datetime.datetime) -> datetime.timedelta:
        return self.next_slot(self._aware(last_run_at)) - self._aware(self.now())

    def is_due(self, last_run_at: datetime.datetime) -> schedstate:
        now = self._aware(self.now())
        due = self.next_slot(self._aware(last_run_at)) <= now
        following = self.next_slot(now)
        return schedstate(is_due=due, next=(following - now).total_seconds())

    @staticmethod
    def _aware(moment: datetime.datetime) -> datetime.datetime:
        if moment.tzinfo is None:
            return moment.replace(tzinfo=datetime.UTC)
        return moment


def schedule_for(pipeline_name: str) -> WeeklySchedule | None:
    """Return the weekly schedule of ``pipeline_name``, or None."""
    overrides = settings.PIPELINE_SCHEDULES
    slot = overrides.get(pipeline_name, settings.SCHEDULE)
    if slot is None:
        return None
    where = (
        f"MLPIPELINE_PIPELINE_SCHEDULES[{pipeline_name!r}]"
        if pipeline_name in overrides
        else "MLPIPELINE_SCHEDULE"
    )
    return _weekly(where, slot)


def _weekly(where: str, slot: Any) -> WeeklySchedule:
    """Return the slot of the setting ``where`` as a schedule, or raise."""
    if not isinstance(slot, dict):
        raise ImproperlyConfigured(
            f"{where} must be a dict such as {{'weekday': 6, 'hour': 4}}, or "
            f"None; it is {slot!r}."
        )
    missing = sorted({"weekday", "hour"} - set(slot))
    unknown = sorted(set(slot) - {"weekday", "hour", "minute", "timezone"})
    if missing or unknown:
        wrong = f"lacks {missing}" if missing else f"has unknown keys {unknown}"
        raise ImproperlyConfigured(
            f"{where} is {slot!r}, which {wrong}; give weekday (0 = Monday), hour "
            "and optionally minute and timezone."
        )
    try:
        return WeeklySchedule(**slot)
    except ImproperlyConfigured as err:
        raise ImproperlyConfigured(f"{where} is {slot!r}: {err}") from None
    except zoneinfo.ZoneInfoNotFoundError:
        raise ImproperlyConfigured(
            f"{where} is {slot!r}, whose timezone is not a known time zone."
        ) from None


def check_schedules() -> list[str]:
    """Return the error of each schedule setting that cannot be read."""
    overrides = settings.PIPELINE_SCHEDULES
    if not isinstance(overrides, dict):
        return [
            f"MLPIPELINE_PIPELINE_SCHEDULES is {overrides!r}; use a dict mapping "
            "pipeline names to slots (or None)."
        ]
    slots = {"MLPIPELINE_SCHEDULE": settings.SCHEDULE}
    for name, slot in overrides.items():
        slots[f"MLPIPELINE_PIPELINE_SCHEDULES[{name!r}]"] = slot
    errors = []
    for where, slot in slots.items():
        if slot is None:
            continue
        try:
            _weekly(where, slot)
        except ImproperlyConfigured as err:
            errors.append(str(err))
    return errors


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Return Celery beat entries: one weekly run per declared pipeline."""
    entries = {}
    for pipeline in site:
        name = pipeline.get_name()
        schedule = schedule_for(name)
        if schedule is not None:
            entries[f"mlpipeline: retrain {name}"] = {
                "task": "mlpipeline.scheduled_run",
                "schedule": schedule,
                "args": (name,),
            }
    return entries
