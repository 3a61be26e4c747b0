"""Storage the engine reads data files from and keeps its entities in.

The engine only needs five operations on named blobs, described by the
:class:`Store` protocol. Names are POSIX relative paths such as
``"uploads/features.csv"``. :class:`DirectoryStore` implements the protocol
on a local directory; the Django side adapts a Django ``Storage`` to it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = ["DirectoryStore", "Store", "check_name"]


@runtime_checkable
class Store(Protocol):
    """Named binary blobs, created or replaced whole.

    ``open`` returns a binary file object supporting ``read``,
    ``readline`` (with a size limit) and iteration; a missing name raises
    ``FileNotFoundError`` from ``open`` and ``size``.
    """

    def open(self, name: str) -> BinaryIO:
        """Open the blob called ``name`` for reading."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """Create the blob ``name`` or replace its content with ``data``."""
        ...

    def exists(self, name: str) -> bool:
        """Return whether a blob called ``name`` exists."""
        ...

    def size(self, name: str) -> int:
        """Return the size in bytes of the blob called ``name``."""
        ...

    def listdir(self, folder: str) -> list[str]:
        """Return the names of the blobs directly in ``folder``.

        Names are relative to ``folder``; subfolders are left out, and a
        folder that does not exist is empty.
        """
        ...


def check_name(name: str) -> str:
    """Return ``name`` if it is a usable store name, else raise ValueError.

    A usable name is a non-empty relative POSIX path without ``.`` or
    ``..`` components and without a trailing slash, so it always names a
    file inside the store's folder. Backslashes (a separator on Windows and
    in some object stores' consoles) and NUL bytes (which end a path for the
    operating system) are refused as well.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Store name {name!r} must be a non-empty string.")
    for character, what in (("\0", "a NUL byte"), ("\\", "a backslash")):
        if character in name:
            raise ValueError(
                f"Store name {name!r} holds {what}; use '/' between folders "
                "and printable characters only."
            )
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"Store name {name!r} must be a relative path without empty, "
            "'.' or '..' components."
        )
    return name


class DirectoryStore:
    """Keep blobs as files below a local directory.

    Parameters
    ----------
    root : str or os.PathLike
        Directory holding the blobs; created on first write if missing.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        root = str(self.root)
        return f"DirectoryStore({root!r})"

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*PurePosixPath(check_name(name)).parts)

    def open(self, name: str) -> BinaryIO:
        """Open the file for ``name`` in binary read mode."""
        return open(self._path(name), "rb")

    def write(self, name: str, data: bytes) -> None:
        """Write ``data`` atomically, so readers never see a partial blob."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, name: str) -> bool:
        """Return whether the file for ``name`` exists."""
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        """Return the size of the file for ``name`` in bytes."""
        return self._path(name).stat().st_size

    def listdir(self, folder: str) -> list[str]:
        """Return the files directly in ``folder``, without temporary ones."""
        path = self._path(folder)
        if not path.is_dir():
            return []
        return sorted(
            p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
        )
