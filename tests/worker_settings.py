"""Settings of the Celery worker that the integration tests start.

The test passes the test database's name and its file folders in the
environment, so the worker works on what the test sees.
"""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["WORKER_DATABASE_NAME"]  # noqa: F405
MEDIA_ROOT = os.environ["WORKER_MEDIA_ROOT"]
MLPIPELINE_WORK_DIR = os.environ["WORKER_WORK_DIR"]
MLPIPELINE_LOCK_TIMEOUT = float(os.environ.get("WORKER_LOCK_TIMEOUT", "3"))
MLPIPELINE_BACKENDS = {
    "embedded": {
        "BACKEND": "tests.integration.slow_backend.SlowEmbeddedBackend",
        "OPTIONS": {"SLOW_KIND": "mlmodel", "SLOW_SECONDS": 6.0},
    }
}
# Give back an unacknowledged message (its worker died) after 5 s, and look
# for such messages at every idle poll rather than every tenth.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
