"""Settings of a process that a test starts on the test's database and files.

The test passes its database's name and its file folders in the environment
(:func:`tests.processes.process_env`), so the process works on what the test
sees. With MLPIPELINE_TEST_KILL_AFTER set to a step's name, the process
kills itself once that step has succeeded (:mod:`tests.faults`).
"""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["WORKER_DATABASE_NAME"]  # noqa: F405
MEDIA_ROOT = os.environ["WORKER_MEDIA_ROOT"]
MLPIPELINE_WORK_DIR = os.environ["WORKER_WORK_DIR"]
MLPIPELINE_LOCK_TIMEOUT = float(os.environ.get("WORKER_LOCK_TIMEOUT", "3"))
if os.environ.get("MLPIPELINE_TEST_KILL_AFTER"):
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.faults.KillAfterStep"]  # noqa: F405
