"""Files through Django's storage API, for uploads and engine artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from mlpipeline.conf import settings

__all__ = ["DjangoStore", "get_storage", "save_file"]


def get_storage(alias: str | None = None) -> Storage:
    """Return the storage named by ``alias`` or MLPIPELINE_STORAGE."""
    return storages[alias or settings.STORAGE]


def save_file(storage: Storage, name: str, path: Path) -> str:
    """Copy the local file ``path`` to ``name`` in ``storage``, replacing it.

    The file is streamed in chunks. Return the name it was saved under.
    """
    if storage.exists(name):
        storage.delete(name)
    with open(path, "rb") as file:
        saved = storage.save(name, File(file, name=Path(name).name))
    if saved != name:
        raise RuntimeError(f"Storage saved {name!r} as {saved!r} while replacing it.")
    return saved


class DjangoStore:
    """Adapt a Django storage to the embedded engine's store protocol."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def open(self, name: str) -> IO[bytes]:
        return self.storage.open(name, "rb")

    def write(self, name: str, data: bytes) -> None:
        if self.storage.exists(name):
            self.storage.delete(name)
        self.storage.save(name, ContentFile(data))

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def size(self, name: str) -> int:
        return self.storage.size(name)

    def listdir(self, folder: str) -> list[str]:
        try:
            return sorted(self.storage.listdir(folder)[1])
        except FileNotFoundError:
            return []
