"""Which process runs an engine job, and whether that process is gone.

The embedded engine runs each job inside the process that asked for it, so
a job whose process died (a killed worker) would stay INPROGRESS for ever.
Each running entity records its owner: host, process id and the process's
start time (which tells a reused process id from the original). A job is
orphaned when its owner ran on this host and that process no longer
exists. Jobs owned by another host are never judged orphaned here.
"""

from __future__ import annotations

import os
import socket
from typing import Any

__all__ = ["current_owner", "is_orphaned"]


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
