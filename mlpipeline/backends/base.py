"""The steps every backend provides, driven through Amazon ML's API.

Both backends speak Amazon Machine Learning's API: the Amazon backend
through boto3's ``machinelearning`` client, the embedded backend through the
engine in :mod:`mlpipeline.engine`, which takes the same calls. So this base
class does the calls and the waiting; a subclass provides the client and
the upload.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from mlpipeline.conf import settings
from mlpipeline.engine.csvio import count_records
from mlpipeline.exceptions import StepFailed, StepTimedOut

__all__ = ["Backend"]


def _error_code(err: Exception) -> str | None:
    """Return Amazon ML's error code of ``err`` (engine or botocore error)."""
    code = getattr(err, "code", None)
    if isinstance(code, str):
        return code
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


_GETTERS = {
    "datasource": ("get_data_source", "DataSourceId"),
    "mlmodel": ("get_ml_model", "MLModelId"),
    "evaluation": ("get_evaluation", "EvaluationId"),
}
_DELETERS = {
    "endpoint": ("delete_realtime_endpoint", "MLModelId"),
    "datasource": ("delete_data_source", "DataSourceId"),
    "mlmodel": ("delete_ml_model", "MLModelId"),
    "evaluation": ("delete_evaluation", "EvaluationId"),
}


class Backend:
    """Create and wait for Amazon ML entities on one backend.

    Subclasses override :meth:`create_client` to return an object with
    Amazon ML's client methods, :meth:`upload` to put a local file where
    :meth:`create_data_source` can read it, and :meth:`describe_upload` and
    :meth:`delete_upload` to match.
    """

    #: Called at every poll by whoever drives the backend (a run's lock).
    heartbeat: Callable[[], None] | None = None
    #: Whether jobs run in this process, so that one left PENDING or
    #: INPROGRESS by a dead process must be created again to restart it
    #: (the engine does so when the same Create comes again).
    jobs_run_here = False
    #: Whether the pre-flight checks before an upload include the training
    #: parameters; a backend that checks them itself, at once and for free,
    #: when the model is created may turn this off.
    preflight_parameters = True

    def __init__(self, alias: str, **options: Any) -> None:
        self.alias = alias
        self.options = options
        self.poll_delay = float(options.get("POLL_DELAY", settings.POLL_DELAY))
        self.poll_timeout = float(options.get("POLL_TIMEOUT", settings.POLL_TIMEOUT))

    @cached_property
    def client(self) -> Any:
        return self.create_client()

    def create_client(self) -> Any:
        raise NotImplementedError

    def upload(self, path: Path, name: str) -> str:
        """Upload the local file ``path`` as ``name``; return its location."""
        raise NotImplementedError

    def describe_upload(self, path: Path, name: str) -> dict[str, Any]:
        """Return what :meth:`upload` would do with ``path``, doing nothing.

        Dry runs print it. ``Location`` is what :meth:`upload` would return.
        """
        return {"Location": name, "Bytes": path.stat().st_size}

    def delete_upload(self, location: str) -> None:
        """Delete the file that :meth:`upload` put at ``location``."""
        raise NotImplementedError

    def open_upload(self, location: str) -> IO[bytes]:
        """Open the file that :meth:`upload` put at ``location`` for reading.

        Raise FileNotFoundError when it is gone (``cleanup_models``).
        """
        raise NotImplementedError

    def create_data_source(
        self,
        data_source_id: str,
        *,
        name: str,
        location: str,
        schema: dict[str, Any],
        rearrangement: dict[str, Any] | None = None,
    ) -> None:
        """Make a data source of the file at ``location``, with statistics.

        ``rearrangement`` (a DataRearrangement) selects records of the file;
        without it the data source holds them all.
        """
        spec = {"DataLocationS3": location, "DataSchema": json.dumps(schema)}
        if rearrangement is not None:
            spec["DataRearrangement"] = json.dumps(rearrangement)
        self.client.create_data_source_from_s3(
            DataSourceId=data_source_id,
            DataSourceName=name,
            DataSpec=spec,
            ComputeStatistics=True,
        )

    def create_ml_model(
        self,
        model_id: str,
        *,
        name: str,
        model_type: str,
        parameters: dict[str, str],
        data_source_id: str,
        recipe: str | None = None,
    ) -> None:
        arguments: dict[str, Any] = {
            "MLModelId": model_id,
            "MLModelName": name,
            "MLModelType": model_type,
            "Parameters": parameters,
            "TrainingDataSourceId": data_source_id,
        }
        if recipe is not None:
            arguments["Recipe"] = recipe
        self.client.create_ml_model(**arguments)

    def create_evaluation(
        self, evaluation_id: str, *, name: str, model_id: str, data_source_id: str
    ) -> None:
        self.client.create_evaluation(
            EvaluationId=evaluation_id,
            EvaluationName=name,
            MLModelId=model_id,
            EvaluationDataSourceId=data_source_id,
        )

    def create_realtime_endpoint(self, model_id: str) -> None:
        self.client.create_realtime_endpoint(MLModelId=model_id)

    def predict(self, model_id: str, record: dict[str, str], endpoint_url: str) -> dict:
        response = self.client.predict(
            MLModelId=model_id, Record=record, PredictEndpoint=endpoint_url
        )
        return response["Prediction"]

    def describe(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """Return entity ``entity_id`` of ``kind``; None if there is none."""
        method, key = _GETTERS[kind]
        try:
            return getattr(self.client, method)(**{key: entity_id})
        except Exception as err:
            if _error_code(err) == "ResourceNotFoundException":
                return None
            raise

    def wait(self, kind: str, entity_id: str) -> dict[str, Any]:
        """Poll entity ``entity_id`` of ``kind`` until it is COMPLETED.

        ``kind`` is ``datasource``, ``mlmodel`` or ``evaluation``. Each poll
        reads that one entity by its id. Return its description; raise
        :class:`StepFailed` with the service's message when it FAILED, and
        :class:`StepTimedOut` (a :class:`TimeoutError`) after the backend's
        POLL_TIMEOUT.
        """
        method, key = _GETTERS[kind]
        getter = getattr(self.client, method)
        return self._poll(
            kind,
            entity_id,
            lambda: getter(**{key: entity_id}),
            lambda found: found["Status"],
            done="COMPLETED",
        )

    def wait_for_endpoint(self, model_id: str) -> dict[str, Any]:
        """Poll a model until its endpoint is READY; return the endpoint."""
        found = self._poll(
            "endpoint",
            model_id,
            lambda: self.client.get_ml_model(MLModelId=model_id),
            lambda found: found["EndpointInfo"]["EndpointStatus"],
            done="READY",
        )
        return found["EndpointInfo"]

    def _poll(
        self,
        kind: str,
        entity_id: str,
        get: Callable[[], dict[str, Any]],
        status_of: Callable[[dict[str, Any]], str],
        *,
        done: str,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.poll_timeout
        while True:
            if self.heartbeat is not None:
                self.heartbeat()
            found = get()
            status = status_of(found)
            if status == done:
                return found
            if status in ("FAILED", "DELETED"):
                message = found.get("Message") or f"status {status}"
                raise StepFailed(kind, entity_id, message)
            if time.monotonic() + self.poll_delay > deadline:
                raise StepTimedOut(
                    f"{kind} {entity_id} is still {status} after "
                    f"{self.poll_timeout:.0f} s (the backend's POLL_TIMEOUT); the "
                    "job may go on in the service. Raise POLL_TIMEOUT if such "
                    "jobs are just slow."
                )
            time.sleep(self.poll_delay)

    def count_records(self, path: Path) -> int:
        """Return how many records the local features file ``path`` holds.

        The Loader asks when the backend does not report the count of a
        data source made of the whole file; Amazon ML reports none. Counted
        as the engine counts a data source's records (the header line and
        empty lines do not count).
        """
        return count_records(lambda: open(path, "rb"), True)

    def delete(self, kind: str, entity_id: str) -> None:
        """Delete entity ``entity_id`` of ``kind``.

        ``kind`` is ``datasource``, ``mlmodel``, ``evaluation`` or
        ``endpoint``, which takes the id of the model whose realtime
        endpoint goes.
        """
        method, key = _DELETERS[kind]
        getattr(self.client, method)(**{key: entity_id})
