"""Settings of the demo project.

SQLite, the embedded engine and no broker by default. Set DATABASE=postgres
to use PostgreSQL on 127.0.0.1:5432 (POSTGRES_DB, POSTGRES_USER and
POSTGRES_PASSWORD name the database and login).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mlpipeline",
    "project.demo",
]

# The prediction endpoints need only the security, session and
# authentication middleware (their views run the CSRF check themselves).
# The whole list costs each call 0.08-0.12 ms of CPU, the messages
# middleware ~25 us of it (its cookie storage makes a signer for every
# request). A second handler with the short list for their URLs would save
# most of that; this demo keeps one handler (BENCHMARKS.md, round 4).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"

# The predictor page signs users in here (project/urls.py), staff or not.
LOGIN_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"

if os.environ.get("DATABASE", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("POSTGRES_DB", "mlpipeline"),
            "USER": os.environ.get("POSTGRES_USER", "postgres"),
            "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
            "HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
            "PORT": os.environ.get("POSTGRES_PORT", "5432"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", BASE_DIR / "var" / "db.sqlite3"),
            # Take the write lock when a transaction starts, so two requests
            # that check and then write (queueing a run) take turns.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
MEDIA_ROOT = BASE_DIR / "var" / "media"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"mlpipeline": {"handlers": ["console"], "level": "WARNING"}},
}

MLPIPELINE_ENDPOINT_BASE_URL = os.environ.get(
    "MLPIPELINE_ENDPOINT_BASE_URL", "http://127.0.0.1:8000"
)
MLPIPELINE_WORK_DIR = BASE_DIR / "var" / "mlpipeline"
# Tokens that the prediction API and the realtime endpoints accept, separated
# by spaces; bin/demo makes one for each demo.
MLPIPELINE_API_TOKENS = os.environ.get("MLPIPELINE_API_TOKENS", "").split()

# Celery: Redis (or any broker) when CELERY_BROKER_URL is set; otherwise
# tasks run in-process, eagerly, and no worker or broker is needed.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A run's message returns to the queue this long after a worker took it
    # without acknowledging (it died, or still works): a live run's lock
    # refuses the second delivery, a dead one's is taken over and resumed.
    "visibility_timeout": float(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 3600)),
}
