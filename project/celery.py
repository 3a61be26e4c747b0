"""The demo project's Celery app.

With CELERY_BROKER_URL unset, tasks run in-process (see settings), so the
embedded default needs no broker. Beat gets one weekly entry per declared
pipeline from mlpipeline.schedule.
"""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _add_weekly_runs(sender, **kwargs):
    from mlpipeline.schedule import beat_schedule

    sender.conf.beat_schedule = {**beat_schedule(), **sender.conf.beat_schedule}


@worker_init.connect
@beat_init.connect
def _require_a_broker(sender=None, **kwargs):
    # Without CELERY_BROKER_URL tasks run in the web process; a worker or
    # beat would silently fall back to Celery's default broker address.
    if not os.environ.get("CELERY_BROKER_URL"):
        raise RuntimeError(
            "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) before "
            "starting a worker or beat; without it, runs start in the web "
            "process and no worker is needed."
        )
