"""Training backends: where data sources, models and endpoints are made.

A backend is configured under an alias in ``MLPIPELINE_BACKENDS``::

    MLPIPELINE_BACKENDS = {
        "embedded": {
            "BACKEND": "mlpipeline.backends.embedded.EmbeddedBackend",
        },
    }

and :func:`get_backend` returns it. See :class:`.base.Backend` for the
steps every backend provides.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from mlpipeline.backends.base import Backend
from mlpipeline.conf import settings

__all__ = ["Backend", "backend_class", "get_backend"]


def get_backend(alias: str | None = None) -> Backend:
    """Return a new instance of the backend configured under ``alias``.

    Raise ``ImproperlyConfigured`` for an alias that is not configured, a
    class that cannot be imported (see :func:`backend_class`) or options
    the backend refuses.
    """
    alias = alias or settings.DEFAULT_BACKEND
    config = settings.BACKENDS.get(alias) or {}
    return backend_class(alias)(alias, **config.get("OPTIONS", {}))


def backend_class(alias: str) -> type[Backend]:
    """Return the class configured under ``alias``, without making one.

    Raise ``ImproperlyConfigured`` when no backend has that alias or its
    ``BACKEND`` is not the dotted path of a class.
    """
    backends = settings.BACKENDS
    try:
        config = backends[alias]
    except KeyError:
        known = ", ".join(sorted(backends)) or "none"
        raise ImproperlyConfigured(
            f"MLPIPELINE_BACKENDS has no backend {alias!r}; configured: {known}."
        ) from None
    try:
        return import_string(config["BACKEND"])
    except (KeyError, ImportError) as err:
        raise ImproperlyConfigured(
            f"MLPIPELINE_BACKENDS[{alias!r}]['BACKEND'] must be the dotted path of "
            f"a backend class: {err}"
        ) from err
