"""Settings for the test suite: the demo project, files in a temp folder."""

import tempfile
from pathlib import Path

from project.settings import *  # noqa: F403

_TMP = Path(tempfile.mkdtemp(prefix="mlpipeline-tests-"))

MEDIA_ROOT = _TMP / "media"
MLPIPELINE_WORK_DIR = _TMP / "work"
MLPIPELINE_POLL_DELAY = 0.0
# Queued runs run inline, so a test sees their end.
MLPIPELINE_EAGER_IN_THREAD = False
# A test-only app with a model of every field type.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.fieldzoo"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False}

# A file, not memory, so a Celery worker started by the tests can share the
# test database.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_TMP / "test.sqlite3")}  # noqa: F405
    DATABASES["default"]["OPTIONS"] = {  # noqa: F405
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
    }
