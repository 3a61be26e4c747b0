"""Start processes (a Celery worker, ``manage.py learn``) on a test's data."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def process_env(settings_module: str, **extra: str) -> dict[str, str]:
    """Return the environment of a process working on this test's data.

    ``settings_module`` reads the test database's name and file folders
    from it (see :mod:`tests.process_settings`); ``extra`` adds variables.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "WORKER_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "WORKER_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "WORKER_WORK_DIR": str(settings.MLPIPELINE_WORK_DIR),
        **extra,
    }
