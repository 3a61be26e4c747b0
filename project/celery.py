"""The demo project's Celery app.

With CELERY_BROKER_URL unset, tasks run in-process (see settings), so the
embedded default needs no broker. Beat gets one weekly entry per declared
pipeline from mlpipeline.schedule.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _add_weekly_runs(sender, **kwargs):
    from mlpipeline.schedule import beat_schedule

    sender.conf.beat_schedule = {**beat_schedule(), **sender.conf.beat_schedule}
