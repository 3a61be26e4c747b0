"""Faults for the tests to inject: a disk that fills up, a process that dies.

:class:`FailingStorage` is a file system storage whose saves of matching
names write half the file and then fail, as a full disk does.
:class:`KillAfterStep` is an app for a ``manage.py learn`` started by a
test: listed in INSTALLED_APPS, it kills its own process with SIGKILL as
soon as the step named in MLPIPELINE_TEST_KILL_AFTER has succeeded.
"""

from __future__ import annotations

import errno
import os
import re
import signal
from typing import Any, ClassVar

from django.apps import AppConfig
from django.core.files.storage import FileSystemStorage
from django.db.models.signals import post_save


class FailingStorage(FileSystemStorage):
    """Fail saves of names matching :attr:`failing` after half the bytes.

    Set ``FailingStorage.failing`` to a regular expression to fill the disk
    up for those names, and back to ``None`` to free it again. Reads of
    names matching :attr:`unreadable` fail as a bad disk sector does.
    """

    failing: ClassVar[str | None] = None
    unreadable: ClassVar[str | None] = None

    def _open(self, name: str, mode: str = "rb") -> Any:
        pattern = type(self).unreadable
        if pattern is not None and re.search(pattern, name):
            raise OSError(errno.EIO, os.strerror(errno.EIO), name)
        return super()._open(name, mode)

    def _save(self, name: str, content: Any) -> str:
        pattern = type(self).failing
        if pattern is None or not re.search(pattern, name):
            return super()._save(name, content)
        data = b"".join(content.chunks())
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as partial:
            partial.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)


class KillAfterStep(AppConfig):
    """Kill this process once step MLPIPELINE_TEST_KILL_AFTER succeeded."""

    name = "tests.faults"
    label = "kill_after_step"

    def ready(self) -> None:
        from mlpipeline.models import RunStep

        post_save.connect(_kill_after, sender=RunStep, weak=False)


def _kill_after(sender: Any, instance: Any, **kwargs: Any) -> None:
    wanted = os.environ.get("MLPIPELINE_TEST_KILL_AFTER")
    if instance.name == wanted and instance.status == "succeeded":
        os.kill(os.getpid(), signal.SIGKILL)
