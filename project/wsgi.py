"""WSGI entry point of the demo project (gunicorn: ``project.wsgi``)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()

# Everything made while starting up lives as long as the process. Frozen,
# the collector never scans it again: without this, each full collection
# walked ~90,000 objects (40-90 ms, once every few thousand requests, with
# every thread of the worker stopped). gunicorn's workers import this module
# themselves (or inherit it with --preload, which then also keeps the pages
# shared after the fork).
gc.collect()
gc.freeze()
