"""Which process runs an engine job, and whether that process is gone.

The embedded engine runs each job inside the process that asked for it, so
a job whose process died (a killed worker) would stay INPROGRESS for ever.
Each running entity records its owner: host, process id and the process's
start time (which tells a reused process id from the original). A job is
orphaned when its owner ran on this host and that process no longer
exists. Jobs owned by another host are never judged orphaned here.

A job can also be left behind by a process that still lives: when the store
refuses the document that ends the job, the entity stays INPROGRESS. Each
process therefore keeps the set of jobs it is running (:func:`running`), and
a job its owner no longer runs is left behind as surely as an orphaned one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["current_owner", "is_left_behind", "is_orphaned", "running"]

_running: set[tuple[str, str]] = set()
_running_lock = threading.Lock()


def _start_time(pid: int) -> str | None:
    """Return the start time of process ``pid`` from /proc, if readable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            stat = file.read()
    except OSError:
        return None
    # Field 22 counts from after the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[19]


def current_owner() -> dict[str, Any]:
    """Return the owner record of a job started by this process."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _start_time(pid)}


def is_orphaned(owner: dict[str, Any] | None) -> bool:
    """Return whether the process in ``owner`` ran here and is gone."""
    if not owner or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    started = _start_time(pid)
    return owner.get("started") is not None and started != owner.get("started")


@contextlib.contextmanager
def running(kind: str, entity_id: str) -> Iterator[None]:
    """Count job ``entity_id`` of ``kind`` as running here inside the block."""
    key = (kind, entity_id)
    with _running_lock:
        _running.add(key)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(key)


def is_left_behind(owner: dict[str, Any] | None, kind: str, entity_id: str) -> bool:
    """Return whether job ``entity_id``, marked running, runs nowhere.

    True when its process is gone (:func:`is_orphaned`) and when its process
    is this one but the job is not among those :func:`running` here.
    """
    if is_orphaned(owner):
        return True
    if not owner or owner.get("host") != socket.gethostname():
        return False
    pid = os.getpid()
    if owner.get("pid") != pid or owner.get("started") != _start_time(pid):
        return False
    with _running_lock:
        return (kind, entity_id) not in _running
