"""Files through Django's storage API, for uploads and engine artifacts.

Every name is checked with :func:`mlpipeline.engine.store.check_name` before
the storage sees it, so no name (a pipeline's, a run's, an entity's) can
point outside the storage's folder or bucket prefix, whichever storage the
project configures.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from mlpipeline.conf import settings
from mlpipeline.engine.store import check_name

__all__ = ["DjangoStore", "get_storage", "save_file"]


def get_storage(alias: str | None = None) -> Storage:
    """Return the storage named by ``alias`` or MLPIPELINE_STORAGE."""
    return storages[alias or settings.STORAGE]


def save_file(storage: Storage, name: str, path: Path) -> str:
    """Copy the local file ``path`` to ``name`` in ``storage``, replacing it.

    The file is streamed in chunks. Return the name it was saved under.
    Raise ValueError for a name that :func:`check_name` refuses.
    """
    check_name(name)
    if storage.exists(name):
        storage.delete(name)
    with open(path, "rb") as file:
        saved = storage.save(name, File(file, name=Path(name).name))
    if saved != name:
        raise RuntimeError(f"Storage saved {name!r} as {saved!r} while replacing it.")
    return saved


class DjangoStore:
    """Adapt a Django storage to the embedded engine's store protocol.

    Names the engine's :func:`check_name` refuses raise ValueError.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def open(self, name: str) -> IO[bytes]:
        return self.storage.open(check_name(name), "rb")

    def write(self, name: str, data: bytes) -> None:
        if self.storage.exists(check_name(name)):
            self.storage.delete(name)
        self.storage.save(name, ContentFile(data))

    def exists(self, name: str) -> bool:
        return self.storage.exists(check_name(name))

    def size(self, name: str) -> int:
        return self.storage.size(check_name(name))

    def listdir(self, folder: str) -> list[str]:
        try:
            return sorted(self.storage.listdir(check_name(folder))[1])
        except FileNotFoundError:
            return []
