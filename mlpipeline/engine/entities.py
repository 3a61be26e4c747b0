"""The bookkeeping every engine operation shares.

:class:`EntityOperations` keeps entity documents in the store (see
:mod:`repository`), runs a Create's job through the status lifecycle of
spec §2 (PENDING, INPROGRESS, then COMPLETED or FAILED with a ``Message``),
replays identical Creates, waits for dependencies running in other
processes, renames and deletes. :class:`~mlpipeline.engine.service.Engine`
and the operation groups it is built from (batch predictions, listings,
tags) derive from it.

[ENGINE] rules where AWS is silent (spec §19.27-28):

* Re-issuing a Create with the same id and the same parameters returns the
  id and does nothing; other parameters raise
  :class:`IdempotentParameterMismatchException`. Two cases run the job
  again instead: a job left PENDING or INPROGRESS by a process that ended
  or gave it up, and a job that FAILED with an internal error (its store
  refused a read or a write) rather than because of its data.
* A Create that depends on a FAILED or DELETED entity, or on a missing one,
  is rejected with :class:`InvalidInputException`. A dependency still PENDING
  or INPROGRESS (a job running in another process) is waited for, and the
  job fails if the dependency does not complete.
* Renaming a DELETED entity is rejected with :class:`InvalidInputException`.
* Every operation (a public method taking only keyword parameters, named
  as Amazon's) refuses, with :class:`InvalidInputException` naming it, a
  parameter it does not know, a required one left out and parameters given
  by position, as botocore refuses them before sending (its
  ``ParamValidationError``). :meth:`EntityOperations.__init_subclass__`
  adds the check to every such method, once for all.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

from mlpipeline.engine.errors import (
    IdempotentParameterMismatchException,
    InvalidInputException,
    JobFailedError,
    ResourceNotFoundException,
)
from mlpipeline.engine.owner import current_owner, is_left_behind, running
from mlpipeline.engine.repository import Repository, without_non_finite
from mlpipeline.engine.store import Store, check_name

__all__ = [
    "LABELS",
    "EntityOperations",
    "check_entity_name",
    "check_id",
    "check_store_name",
]

logger = logging.getLogger(__name__)

MAX_MESSAGE = 10240
#: Entity kind -> the name Amazon ML gives that type.
LABELS = {
    "datasource": "DataSource",
    "mlmodel": "MLModel",
    "evaluation": "Evaluation",
    "batchprediction": "BatchPrediction",
}
_ID = re.compile(r"[a-zA-Z0-9_.-]{1,64}")
_RUNNING = ("PENDING", "INPROGRESS")


def operation_name(method: str) -> str:
    """Return Amazon's name of an operation: ``get_ml_model`` -> GetMLModel."""
    special = {"ml": "ML", "s3": "S3"}
    return "".join(special.get(w, w.capitalize()) for w in method.split("_"))


def _checked(func: Callable[..., Any], accepted: frozenset[str] | None) -> Any:
    """Wrap an operation so that wrong parameters raise InvalidInputException.

    ``accepted`` names the parameters of a method that takes ``**request``;
    ``None`` reads them from the keyword-only parameters.
    """
    named = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    ]
    if accepted is None:
        accepted = frozenset(p.name for p in named)
    required = [p.name for p in named if p.default is inspect.Parameter.empty]
    label = operation_name(func.__name__)

    @functools.wraps(func)
    def call(self: Any, *args: Any, **request: Any) -> Any:
        if args:
            raise InvalidInputException(
                f"{label} takes its parameters by name, e.g. {label}"
                f"({', '.join(f'{n}=...' for n in sorted(accepted)[:2])})."
            )
        unknown = sorted(set(request) - accepted)
        if unknown:
            known = ", ".join(sorted(accepted)) or "none"
            raise InvalidInputException(
                f"{label} has no parameter {unknown[0]!r}; it accepts {known}."
            )
        missing = [name for name in required if name not in request]
        if missing:
            raise InvalidInputException(f"{label} needs the parameter {missing[0]!r}.")
        return func(self, *args, **request)

    return call


def check_id(value: Any, field: str) -> str:
    """Return ``value`` if it is a valid EntityId (spec §3); else raise."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInputException(
            f"{field} {value!r} must be 1-64 characters from letters, digits, "
            "'_', '.' and '-'."
        )
    return value


def check_entity_name(value: Any, field: str) -> str | None:
    """Return ``value`` if it is an EntityName or ``None``; else raise."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 1024 or (value and value.isspace()):
        raise InvalidInputException(
            f"{field} {value!r} must be a string of at most 1024 characters, "
            "empty or holding a non-space character."
        )
    return value


def check_store_name(value: Any, field: str) -> str:
    """Return ``value`` if it names a blob of the store; else raise.

    An ``s3://`` URL gets its own message: the engine reads its store only.
    """
    if isinstance(value, str) and value.startswith("s3://"):
        raise InvalidInputException(
            f"{field} {value!r} is an S3 URL; the embedded engine reads from its "
            "store, so pass a store name such as 'uploads/data.csv'."
        )
    try:
        return check_name(value)
    except ValueError as err:
        raise InvalidInputException(f"{field}: {err}") from err


class EntityOperations:
    """Keep entities in a store and run their jobs.

    Parameters
    ----------
    store : Store
        Holds data files and the engine's entities.
    wait_timeout : float, default 3600
        Seconds a job waits for a dependency still running elsewhere.
    poll_interval : float, default 0.5
        Seconds between checks while waiting.
    """

    #: Parameters of the operations that take ``**request``, by method name.
    REQUEST_KEYS: ClassVar[dict[str, frozenset[str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the parameters of every operation the subclass defines.

        An operation is a public method whose parameters are all keyword-only
        (or ``**request``, whose names :attr:`REQUEST_KEYS` gives).
        """
        super().__init_subclass__(**kwargs)
        for name, func in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            params = list(inspect.signature(func).parameters.values())[1:]
            if not params or any(
                p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params
            ):
                continue
            if any(p.kind is p.VAR_KEYWORD for p in params):
                setattr(cls, name, _checked(func, cls.REQUEST_KEYS[name]))
            else:
                setattr(cls, name, _checked(func, None))

    def __init__(
        self, store: Store, *, wait_timeout: float = 3600.0, poll_interval: float = 0.5
    ) -> None:
        self.store = store
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self._repo = Repository(store)

    def _get(
        self, kind: str, entity_id: Any, field: str, *, to_read: bool = False
    ) -> dict[str, Any]:
        """Return an entity's document; one ``to_read`` must not be changed."""
        load = self._repo.view if to_read else self._repo.load
        document = load(kind, check_id(entity_id, field))
        if document is None:
            raise ResourceNotFoundException(
                f"No {LABELS[kind]} has the id {entity_id!r}."
            )
        return document

    def _dependency(self, kind: str, entity_id: Any, field: str) -> dict[str, Any]:
        document = self._repo.load(kind, check_id(entity_id, field))
        if document is None:
            raise InvalidInputException(
                f"{field} {entity_id!r} does not name an existing {LABELS[kind]}."
            )
        status = document["api"]["Status"]
        if status in ("FAILED", "DELETED"):
            raise InvalidInputException(
                f"{LABELS[kind]} {entity_id!r} is {status} and cannot be used."
            )
        return document

    def _await(self, kind: str, entity_id: str) -> dict[str, Any]:
        """Return a dependency once it is no longer running; fail otherwise."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            document = self._repo.load(kind, entity_id)
            status = document["api"]["Status"] if document else "DELETED"
            if status not in _RUNNING:
                break
            if is_left_behind(document.get("owner"), kind, entity_id):
                raise JobFailedError(
                    f"{LABELS[kind]} {entity_id!r} was left {status} by a process "
                    "that ended or gave it up; create it again to rerun it."
                )
            if time.monotonic() >= deadline:
                raise JobFailedError(
                    f"{LABELS[kind]} {entity_id!r} was still {status} after "
                    f"{self.wait_timeout:g} seconds."
                )
            time.sleep(self.poll_interval)
        if status != "COMPLETED":
            raise JobFailedError(f"{LABELS[kind]} {entity_id!r} ended {status}.")
        return document

    def _replayed(self, kind: str, entity_id: str, request: dict[str, Any]) -> bool:
        """Return whether this Create repeats an earlier one exactly."""
        document = self._repo.load(kind, entity_id)
        if document is None:
            return False
        if document["request"] != json.loads(json.dumps(request)):
            raise IdempotentParameterMismatchException(
                f"A {LABELS[kind]} with the id {entity_id!r} already exists with "
                "other parameters."
            )
        status = document["api"]["Status"]
        if status in _RUNNING and is_left_behind(
            document.get("owner"), kind, entity_id
        ):
            # The process running this job died or gave it up; run it again
            # here, as a service would restart a job whose machine failed.
            logger.warning(
                "%s %s was left %s by process %s; running it again",
                LABELS[kind], entity_id, status, document["owner"].get("pid"),
            )  # fmt: skip
            return False
        if status == "FAILED" and document.get("internal_error"):
            # The job failed for a reason of its own machine (a store that
            # refused a write), not of its data, so trying again may pass.
            logger.warning(
                "%s %s failed with an internal error; running it again",
                LABELS[kind], entity_id,
            )  # fmt: skip
            return False
        return True

    def _create(
        self,
        kind: str,
        entity_id: str,
        document: dict[str, Any],
        work: Callable[[dict[str, Any]], None],
        report_compute_time: bool = True,
    ) -> None:
        """Save a new entity as PENDING, then run its job to the end.

        A job that fails with an unexpected error (not a
        :class:`JobFailedError`) is marked as such, so that the same Create
        runs it again (see :meth:`_replayed`).
        """
        with running(kind, entity_id):
            self._run_job(kind, entity_id, document, work, report_compute_time)

    def _run_job(
        self,
        kind: str,
        entity_id: str,
        document: dict[str, Any],
        work: Callable[[dict[str, Any]], None],
        report_compute_time: bool,
    ) -> None:
        now = time.time()
        api = document["api"]
        api.update(Status="PENDING", CreatedAt=now, LastUpdatedAt=now)
        document["owner"] = current_owner()
        document.pop("internal_error", None)
        self._repo.save(kind, entity_id, document)

        started = time.time()
        api.update(Status="INPROGRESS", StartedAt=started, LastUpdatedAt=started)
        self._repo.save(kind, entity_id, document)
        cpu = time.process_time()
        try:
            work(document)
        except JobFailedError as err:
            api.update(Status="FAILED", Message=str(err)[:MAX_MESSAGE])
        except Exception as err:
            # Leaving the entity INPROGRESS forever would be worse than a
            # FAILED status that names the unexpected error.
            logger.exception("%s %s failed unexpectedly", LABELS[kind], entity_id)
            message = f"Internal error: {type(err).__name__}: {err}"
            api.update(Status="FAILED", Message=message[:MAX_MESSAGE])
            document["internal_error"] = True
        else:
            api["Status"] = "COMPLETED"
            if report_compute_time:
                api["ComputeTime"] = int((time.process_time() - cpu) * 1000)
        finished = time.time()
        api.update(FinishedAt=finished, LastUpdatedAt=finished)
        document.pop("owner", None)
        # A statistic that overflowed (values near 1e308) is saved as null:
        # JSON refuses infinity, and a refused save would leave the entity
        # INPROGRESS for good.
        document.update(without_non_finite(document))
        self._repo.save(kind, entity_id, document)
        logger.info(
            "%s %s %s in %.1fs",
            LABELS[kind],
            entity_id,
            api["Status"],
            finished - started,
        )

    def _touch(self, kind: str, entity_id: str, document: dict[str, Any]) -> None:
        document["api"]["LastUpdatedAt"] = time.time()
        self._repo.save(kind, entity_id, document)

    def _rename(
        self, kind: str, entity_id: Any, field: str, name: Any, name_field: str
    ) -> dict[str, Any]:
        document = self._get(kind, entity_id, field)
        if document["api"]["Status"] == "DELETED":
            raise InvalidInputException(f"{LABELS[kind]} {entity_id!r} is DELETED.")
        name = check_entity_name(name, name_field)
        if name is not None:
            document["api"]["Name"] = name
        self._touch(kind, entity_id, document)
        return document

    def _delete(self, kind: str, entity_id: Any, field: str) -> dict[str, Any]:
        document = self._get(kind, entity_id, field)
        document["api"]["Status"] = "DELETED"
        self._touch(kind, entity_id, document)
        return document

    def _read_text(self, name: str, field: str) -> str:
        if not self.store.exists(name):
            raise InvalidInputException(
                f"{field} {name!r} does not exist in the store."
            )
        with self.store.open(name) as handle:
            data = handle.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InvalidInputException(f"{field} {name!r} is not UTF-8 text.") from err
