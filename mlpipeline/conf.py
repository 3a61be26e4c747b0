"""Settings of mlpipeline, read lazily with their defaults.

Every setting is named ``MLPIPELINE_<NAME>`` in the host project's settings
and read through :data:`settings` at the moment it is used, never at import
time, so ``override_settings`` in tests and late configuration both work::

    from mlpipeline.conf import settings

    settings.CHUNK_SIZE
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["DEFAULTS", "MAX_RETENTION_DAYS", "retention_days", "settings"]

DEFAULTS: dict[str, Any] = {
    # Alias of the backend that pipelines use unless they name another.
    "DEFAULT_BACKEND": "embedded",
    # Backend aliases, shaped like Django's STORAGES setting.
    "BACKENDS": {
        "embedded": {
            "BACKEND": "mlpipeline.backends.embedded.EmbeddedBackend",
            "OPTIONS": {},
        },
    },
    # Alias in STORAGES where uploaded files and engine artifacts go.
    "STORAGE": "default",
    # Local folder for the extracted rows and the features file of each run.
    # None means <BASE_DIR>/var/mlpipeline.
    "WORK_DIR": None,
    # Local folder where the embedded engine's training and evaluation keep
    # their temporary files (encoded rows, sorted scores), about 12 bytes
    # per feature value of the training rows. None means <WORK_DIR>/tmp.
    "TEMP_DIR": None,
    # Rows fetched per database round trip while extracting.
    "CHUNK_SIZE": 2000,
    # Scheme and host that the embedded engine's endpoint URLs start with.
    "ENDPOINT_BASE_URL": "http://127.0.0.1:8000",
    # Seconds between two status polls of a backend entity, and in all.
    "POLL_DELAY": 5.0,
    "POLL_TIMEOUT": 4 * 3600.0,
    # Seconds without a heartbeat after which a run's lock counts as left by
    # a dead process. A thread of the working process beats every quarter of
    # this, so it bounds only how long a crashed run blocks its pipeline.
    "LOCK_TIMEOUT": 600.0,
    # With no Celery broker, queued runs start in a thread of the process
    # that queued them (the web process for the admin's actions), so a
    # request never waits for a training. Tests turn it off to run inline.
    "EAGER_IN_THREAD": True,
    # Weekly retraining: the default slot, and per-pipeline slots (a dict
    # like the default, or None to leave a pipeline off the schedule).
    "SCHEDULE": {"weekday": 6, "hour": 4, "minute": 0},
    "PIPELINE_SCHEDULES": {},
    # How long the entities and files of a superseded run are kept, counted
    # from when its model stopped being active: a timedelta or a number of
    # days.
    "RETENTION": datetime.timedelta(days=14),
    # How far (a fraction of the active model's metric) a new model may fall
    # short of the active one and still be promoted: 0.01 allows 1 %.
    "PROMOTION_MARGIN": 0.01,
    # Bearer tokens that the prediction API accepts, besides signed-in users
    # holding mlpipeline.predict.
    "API_TOKENS": [],
    # Largest body, in bytes, of a request to the prediction API or a
    # realtime endpoint: one record, at most 100 KB in Amazon ML, with room
    # for JSON's quoting. DATA_UPLOAD_MAX_MEMORY_SIZE applies if smaller.
    "MAX_REQUEST_BYTES": 128 * 1024,
}


#: Longest retention, in days (about 270 years): a longer one would reach
#: back past the calendar's first year from now.
MAX_RETENTION_DAYS = 100_000


def retention_days(days: float) -> datetime.timedelta | None:
    """Return ``days`` as a timedelta; None outside 0 to MAX_RETENTION_DAYS."""
    if not math.isfinite(days) or not 0 <= days <= MAX_RETENTION_DAYS:
        return None
    return datetime.timedelta(days=days)


class _Settings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"There is no mlpipeline setting {name!r}.")
        return getattr(django_settings, f"MLPIPELINE_{name}", DEFAULTS[name])

    @property
    def work_dir(self) -> Path:
        """Return the folder for run files, from WORK_DIR or BASE_DIR."""
        configured = self.WORK_DIR
        if configured is not None:
            return Path(configured)
        base_dir = getattr(django_settings, "BASE_DIR", None)
        if base_dir is None:
            raise ImproperlyConfigured(
                "Set MLPIPELINE_WORK_DIR (or BASE_DIR) to the folder where "
                "mlpipeline may write the files of each run."
            )
        return Path(base_dir) / "var" / "mlpipeline"

    @property
    def temp_dir(self) -> Path:
        """Return the folder for the engine's temporary files."""
        configured = self.TEMP_DIR
        return self.work_dir / "tmp" if configured is None else Path(configured)

    @property
    def retention(self) -> datetime.timedelta:
        """Return RETENTION as a timedelta."""
        configured = value = self.RETENTION
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = retention_days(value)
        if not isinstance(value, datetime.timedelta) or not (
            datetime.timedelta() <= value <= datetime.timedelta(MAX_RETENTION_DAYS)
        ):
            raise ImproperlyConfigured(
                f"MLPIPELINE_RETENTION is {configured!r}; use a timedelta or a "
                f"number of days, from 0 to {MAX_RETENTION_DAYS}."
            )
        return value

    @property
    def api_tokens(self) -> tuple[str, ...]:
        """Return the usable tokens of API_TOKENS: its non-empty strings.

        Only a list or tuple counts; anything else (a bare string, whose
        characters would each pass as a token) gives no token at all, and
        the system check ``mlpipeline.E008`` reports it.
        """
        configured = self.API_TOKENS
        if not isinstance(configured, (list, tuple)):
            return ()
        return tuple(t for t in configured if isinstance(t, str) and t.strip())


settings = _Settings()
