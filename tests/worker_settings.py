"""Settings of the Celery worker that the integration tests start.

Those of any process a test starts (:mod:`tests.process_settings`), plus an
embedded backend slow enough to kill the worker mid-training and a broker
that gives a dead worker's message back quickly.
"""

from tests.process_settings import *  # noqa: F403

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
