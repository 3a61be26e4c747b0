"""The embedded backend: Amazon ML's steps done by the engine in-process."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from mlpipeline.backends.base import Backend
from mlpipeline.conf import settings
from mlpipeline.engine import Engine
from mlpipeline.engine.store import check_name
from mlpipeline.storage import DjangoStore, get_storage, save_file

__all__ = ["EmbeddedBackend", "endpoint_url_template"]

_PLACEHOLDER = "MODELID"


def endpoint_url_template() -> str:
    """Return the URL of the realtime endpoint with ``{model_id}`` in it."""
    try:
        path = reverse("mlpipeline:realtime", kwargs={"model_id": _PLACEHOLDER})
    except NoReverseMatch:
        raise ImproperlyConfigured(
            "The embedded backend serves predictions from mlpipeline's URLs; add "
            "path('mlpipeline/', include('mlpipeline.urls')) to the ROOT_URLCONF."
        ) from None
    base = settings.ENDPOINT_BASE_URL.rstrip("/")
    return base + path.replace(_PLACEHOLDER, "{model_id}")


class EmbeddedBackend(Backend):
    """Train with the embedded engine; files live in a Django storage.

    Options: ``STORAGE``, the alias in STORAGES (MLPIPELINE_STORAGE by
    default). Jobs run synchronously, so :meth:`wait` finds each entity
    finished at its first poll.
    """

    jobs_run_here = True
    # The engine checks the training parameters when the model is created,
    # with the same rules as the pre-flight checks and at no cost, and
    # callers see its InvalidInputException there.
    preflight_parameters = False
    # The engine's evaluation reports its histogram, read in the same pass
    # as the metric, so no batch prediction reads the evaluation file again.
    reports_distribution = True

    def __init__(self, alias: str, **options: Any) -> None:
        super().__init__(alias, **options)
        self.storage = get_storage(options.get("STORAGE"))

    def create_client(self) -> Engine:
        return Engine(
            DjangoStore(self.storage),
            endpoint_url=endpoint_url_template(),
            temp_dir=settings.temp_dir,
        )

    def upload(self, path: Path, name: str) -> str:
        return save_file(self.storage, name, path)

    def output_location(self, name: str) -> str:
        return name

    def delete_upload(self, location: str) -> None:
        self.storage.delete(location)

    def open_upload(self, location: str) -> IO[bytes]:
        return self.storage.open(check_name(location), "rb")

    def delete(self, kind: str, entity_id: str) -> None:
        """Delete an entity; a model's weights and feature space files too.

        The engine marks a deleted model DELETED and keeps its document
        readable, as Amazon ML does; the files that only predictions need
        go, first, so that a deletion cut short is done again in full.
        """
        if kind == "mlmodel":
            for name in self.client.model_files(entity_id):
                if self.storage.exists(name):
                    self.storage.delete(name)
        super().delete(kind, entity_id)
