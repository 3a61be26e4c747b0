"""Settings of the benchmark suite: the demo project plus the bench table.

SQLite at ``var/bench/bench.sqlite3`` by default; DATABASE=postgres uses the
database ``mlpipeline_bench`` on 127.0.0.1:5432 (POSTGRES_DB overrides it).
Files go under ``var/bench``, or under BENCH_VAR when it is set.
"""

import os
from pathlib import Path

os.environ.setdefault("POSTGRES_DB", "mlpipeline_bench")

from project.settings import *  # noqa: F403
from project.settings import BASE_DIR, INSTALLED_APPS

_VAR = Path(os.environ.get("BENCH_VAR", BASE_DIR / "var" / "bench"))
_VAR.mkdir(parents=True, exist_ok=True)
if os.environ.get("DATABASE", "sqlite") != "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _VAR / "bench.sqlite3",
        }
    }
INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks"]
# One engine store per database: entity ids restart with each database's
# run numbers, and the engine treats a repeated id as the same entity.
_DATABASE = os.environ.get("DATABASE", "sqlite")
MEDIA_ROOT = _VAR / _DATABASE / "media"
MLPIPELINE_WORK_DIR = _VAR / _DATABASE / "work"
LOGGING = {"version": 1, "disable_existing_loggers": False}
