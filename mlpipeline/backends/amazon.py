"""The Amazon backend: Amazon Machine Learning through boto3, files on S3.

Configure it under an alias in ``MLPIPELINE_BACKENDS``::

    MLPIPELINE_BACKENDS = {
        "amazon": {
            "BACKEND": "mlpipeline.backends.amazon.AmazonBackend",
            "OPTIONS": {"BUCKET": "acme-ml", "REGION": "eu-west-1"},
        },
    }

Options (all but ``BUCKET`` optional):

``BUCKET``
    S3 bucket the features files go to, under ``uploads/``.
``REGION``
    ``us-east-1`` (default) or ``eu-west-1``, the only regions of Amazon ML.
``KMS_KEY_ID``
    Encrypt uploads with this KMS key (``aws:kms``); ``AES256`` otherwise.
``MULTIPART_THRESHOLD``, ``MULTIPART_CHUNKSIZE``
    Files of at least the threshold go up in parts of the chunk size
    (bytes, both 64 MiB by default).
``STORAGE_OPTIONS``
    More keyword arguments for django-storages' ``S3Boto3Storage``, such as
    ``endpoint_url``; the bucket, key prefix, overwriting, compression and
    encryption stay as described here.
``MAX_ATTEMPTS``, ``RETRY_DELAY``, ``RETRY_MAX_DELAY``
    Amazon ML calls that are throttled, failed by the service or cut off
    are made up to ``MAX_ATTEMPTS`` times (5), waiting ``RETRY_DELAY``
    seconds (1) and twice as long after each further failure, at most
    ``RETRY_MAX_DELAY`` (30). S3 calls keep botocore's own retries.
``POLL_DELAY``, ``POLL_TIMEOUT``
    Seconds between two status reads of an entity, and in all
    (MLPIPELINE_POLL_DELAY and MLPIPELINE_POLL_TIMEOUT by default).

Credentials come from boto3's usual chain (environment, shared files, the
instance or task role). Every boto3 ``ClientError`` whose meaning is
certain becomes a :class:`~mlpipeline.exceptions.BackendError` in
:func:`translate_error`, the one place that reads error codes.
"""

from __future__ import annotations

import base64
import logging
import posixpath
import re
import time
import zlib
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import IO, Any, NoReturn

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as TransportError
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from storages.backends.s3boto3 import S3Boto3Storage

from mlpipeline.backends.base import Backend
from mlpipeline.exceptions import BackendError, StepFailed, StepTimedOut

__all__ = ["REGIONS", "AmazonBackend", "translate_error"]

logger = logging.getLogger(__name__)

REGIONS = ("us-east-1", "eu-west-1")
_MIB = 1024 * 1024
_OPTIONS = frozenset(
    {
        "BUCKET",
        "REGION",
        "KMS_KEY_ID",
        "MULTIPART_THRESHOLD",
        "MULTIPART_CHUNKSIZE",
        "STORAGE_OPTIONS",
        "MAX_ATTEMPTS",
        "RETRY_DELAY",
        "RETRY_MAX_DELAY",
        "POLL_DELAY",
        "POLL_TIMEOUT",
    }
)
_THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_SERVER_FAULTS = frozenset(
    {
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
    }
)
_S3_URL = re.compile(r"s3://([^/]+)/(.+)")
# Part of the message Amazon ML gives accounts it does not admit (spec 1).
# Phrases of the refusal an account new to Amazon ML gets. Users reported
# "no longer available to new customers"; AWS's documentation speaks of no
# longer accepting new users, so both are matched.
_NOT_ADMITTED = ("new customers", "new users")
# Keys of a request that name what it is about; logged instead of the whole
# request, whose schema can be long.
_ID_KEYS = ("DataSourceId", "MLModelId", "EvaluationId")


def _error_code(err: ClientError) -> tuple[str, str, int]:
    error = err.response.get("Error", {})
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code", ""), error.get("Message", ""), status


def _is_transient(err: ClientError) -> bool:
    code, _, status = _error_code(err)
    return code in _THROTTLED or code in _SERVER_FAULTS or status >= 500


#: What to tell the operator for each error code whose meaning is certain;
#: ``{said}`` is the service's message without its final full stop.
_ADVICE = {
    "AccessDeniedException": (
        "AWS denied {operation}: {said}. Grant the credentials in use the IAM "
        "permissions listed in mlpipeline's README."
    ),
    "InvalidInputException": (
        "Amazon ML refused {operation} as invalid: {said}. Change the value it "
        "names in the pipeline's declaration or the backend's OPTIONS."
    ),
    "LimitExceededException": (
        "Amazon ML refused {operation} because the account reached a service "
        "limit: {said}. Wait for running jobs to finish (at most 25 run at once) "
        "or ask AWS to raise the limit, then run again."
    ),
    "ResourceNotFoundException": (
        "Amazon ML has no entity for {operation}: {said}. It was deleted, or was "
        "made in another region than the backend's REGION {region!r}."
    ),
    "IdempotentParameterMismatchException": (
        "Amazon ML refused {operation}: an entity with this id already exists "
        "with other parameters ({said}). Entity ids hold the pipeline's name, the "
        "run's number and a random token, so this should not happen; start a new "
        "run."
    ),
    "NoSuchBucket": (
        "S3 refused {operation}: {said}. Create the bucket, or correct the "
        "backend's BUCKET option."
    ),
}
_ADVICE["AccessDenied"] = _ADVICE["AccessDeniedException"]


def translate_error(
    err: ClientError, *, attempts: int | None = None, region: str = ""
) -> BackendError | None:
    """Return the :class:`BackendError` that ``err`` stands for, or ``None``.

    ``attempts`` is how many times an Amazon ML call was made; ``None``
    (S3, which botocore retries on its own) leaves throttling and server
    faults untranslated. ``region`` is the backend's region, for the
    messages. Codes whose meaning is not certain give ``None``: the caller
    re-raises ``err`` unchanged.
    """
    code, message, status = _error_code(err)
    operation = err.operation_name
    said = message.strip().rstrip(".")
    if attempts is None and _is_transient(err):
        return None
    if code in _THROTTLED:
        text = (
            f"Amazon ML throttled {operation} {attempts} times in a row ({code}); "
            "run fewer pipelines at once, or raise the backend's MAX_ATTEMPTS."
        )
    elif code in _SERVER_FAULTS or status >= 500:
        text = (
            f"Amazon ML failed {operation} {attempts} times in a row with {code} "
            f"({said}); the service is in trouble, run again later."
        )
    elif code == "AccessDeniedException" and any(
        phrase in message.lower() for phrase in _NOT_ADMITTED
    ):
        text = (
            f"Amazon ML refused {operation}: it does not admit this AWS account, "
            f"because the service no longer takes new customers ({said}). Train "
            "with the embedded backend instead: set MLPIPELINE_DEFAULT_BACKEND = "
            "'embedded', or backend = 'embedded' on the pipeline."
        )
    elif code == "LimitExceededException" and operation == "Predict":
        text = (
            f"Amazon ML refused Predict because the endpoint reached its limit: "
            f"{said}. An endpoint answers at most 200 predictions per second; "
            "send fewer at once."
        )
    elif code in _ADVICE:
        text = _ADVICE[code].format(operation=operation, said=said, region=region)
    else:
        return None
    return BackendError(text, operation=operation, code=code)


def _raise_translated(err: ClientError, **context: Any) -> NoReturn:
    error = translate_error(err, **context)
    if error is None:
        raise err
    raise error from err


class _Calls:
    """Make Amazon ML calls through a boto3 client, retrying what may pass.

    Throttling, server faults and lost connections are retried with
    exponential backoff up to a limit; every other ``ClientError`` goes
    through :func:`translate_error` at once.
    """

    # Retrying here rather than with botocore's retry modes: their
    # "standard" mode also retries LimitExceededException, which Amazon ML
    # raises for account limits that a few seconds do not lift; botocore's
    # retries happen below botocore's Stubber, out of reach of tests; and
    # one loop keeps the limit and delays as backend options. The client is
    # made with botocore's retries switched off so attempts do not multiply.

    def __init__(
        self,
        client: Any,
        *,
        attempts: int,
        delay: float,
        max_delay: float,
        region: str,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.delay = delay
        self.max_delay = max_delay
        self.region = region

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method
        return lambda **params: self._call(name, method, params)

    def _call(
        self, name: str, method: Callable[..., Any], params: dict[str, Any]
    ) -> Any:
        subject = " ".join(str(params[key]) for key in _ID_KEYS if key in params)
        attempt = 1
        while True:
            logger.debug("Amazon ML %s %s (attempt %d)", name, subject, attempt)
            try:
                return method(**params)
            except ClientError as err:
                if not _is_transient(err) or attempt >= self.attempts:
                    _raise_translated(err, attempts=attempt, region=self.region)
                reason = _error_code(err)[0]
            except (TransportError, HTTPClientError) as err:
                if attempt >= self.attempts:
                    raise
                reason = type(err).__name__
            pause = min(self.max_delay, self.delay * 2 ** (attempt - 1))
            logger.warning(
                "Amazon ML %s %s: %s; attempt %d of %d, trying again in %.1f s",
                name, subject, reason, attempt, self.attempts, pause,
            )  # fmt: skip
            time.sleep(pause)
            attempt += 1


def _size_and_crc32(path: Path) -> tuple[int, str]:
    """Return the size of ``path`` and its CRC32 as S3 spells it (base64)."""
    size, crc = 0, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_MIB):
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)
    return size, base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def _bucket_and_key(location: str) -> tuple[str, str]:
    match = _S3_URL.fullmatch(location)
    if match is None:
        raise ValueError(f"{location!r} is not an s3://bucket/key URL.")
    bucket, key = match.groups()
    return bucket, key


def _facts(upload: dict[str, Any]) -> str:
    return (
        f"{upload['bytes']} bytes, CRC32 {upload['CRC32']}, "
        f"encryption {upload['encryption']}"
    )


class AmazonBackend(Backend):
    """Train with Amazon Machine Learning; features files go to S3.

    See the module docstring for the options. Nothing is contacted until a
    step runs.
    """

    def __init__(self, alias: str, **options: Any) -> None:
        super().__init__(alias, **options)
        where = f"MLPIPELINE_BACKENDS[{alias!r}]['OPTIONS']"
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ImproperlyConfigured(
                f"{where} has the unknown option {unknown[0]!r}; the Amazon backend "
                f"takes {', '.join(sorted(_OPTIONS))}."
            )
        self.bucket = options.get("BUCKET") or ""
        if not self.bucket:
            raise ImproperlyConfigured(
                f"{where} needs BUCKET, the S3 bucket that features files are "
                "uploaded to."
            )
        self.region = options.get("REGION", REGIONS[0])
        if self.region not in REGIONS:
            raise ImproperlyConfigured(
                f"{where}['REGION'] is {self.region!r}; Amazon ML runs only in "
                f"{' and '.join(REGIONS)}."
            )
        self.kms_key_id = options.get("KMS_KEY_ID") or None
        self.multipart_threshold = int(options.get("MULTIPART_THRESHOLD", 64 * _MIB))
        self.multipart_chunksize = int(options.get("MULTIPART_CHUNKSIZE", 64 * _MIB))
        self.storage_options = dict(options.get("STORAGE_OPTIONS") or {})
        self.max_attempts = int(options.get("MAX_ATTEMPTS", 5))
        if self.max_attempts < 1:
            raise ImproperlyConfigured(
                f"{where}['MAX_ATTEMPTS'] is {self.max_attempts}; use 1 or more."
            )
        self.retry_delay = float(options.get("RETRY_DELAY", 1.0))
        self.retry_max_delay = float(options.get("RETRY_MAX_DELAY", 30.0))

    def create_client(self) -> Any:
        """Return a boto3 ``machinelearning`` client for REGION."""
        # One attempt per call: _Calls does the retrying (see there).
        no_retries = Config(retries={"mode": "standard", "total_max_attempts": 1})
        return boto3.client(
            "machinelearning", region_name=self.region, config=no_retries
        )

    @cached_property
    def client(self) -> _Calls:
        return _Calls(
            self.create_client(),
            attempts=self.max_attempts,
            delay=self.retry_delay,
            max_delay=self.retry_max_delay,
            region=self.region,
        )

    def encryption(self) -> dict[str, str]:
        """Return the server-side encryption parameters of every upload."""
        if self.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

    def s3_storage(
        self, bucket: str | None = None, **object_parameters: str
    ) -> S3Boto3Storage:
        """Return the django-storages storage of ``bucket`` (BUCKET).

        Every object it writes is encrypted as :meth:`encryption` says and
        gets ``object_parameters`` as well. Keys are the names given, without
        prefix, overwritten in place and never compressed.
        """
        options = {"region_name": self.region, **self.storage_options}
        options.update(
            bucket_name=bucket or self.bucket,
            location="",
            file_overwrite=True,
            gzip=False,
            object_parameters={
                **options.get("object_parameters", {}),
                **self.encryption(),
                **object_parameters,
            },
            transfer_config=TransferConfig(
                multipart_threshold=self.multipart_threshold,
                multipart_chunksize=self.multipart_chunksize,
            ),
        )
        return S3Boto3Storage(**options)

    def describe_upload(self, path: Path, name: str) -> dict[str, Any]:
        size = path.stat().st_size
        return {
            "Location": f"s3://{self.bucket}/{name}",
            "Bucket": self.bucket,
            "Key": name,
            "Bytes": size,
            "Multipart": size >= self.multipart_threshold,
            **self.encryption(),
        }

    def upload(self, path: Path, name: str) -> str:
        """Upload ``path`` to key ``name`` of BUCKET; return its ``s3://`` URL.

        The object is encrypted, sent in parts when large, and carries the
        file's CRC32, which S3 checks on arrival. Raise
        :class:`BackendError` when the stored object's size, checksum or
        encryption differ from what was sent.
        """
        size, checksum = _size_and_crc32(path)
        location = f"s3://{self.bucket}/{name}"
        # Naming the full-object CRC32 makes S3 refuse bytes that do not
        # match it, whether the file goes in one request or in parts.
        storage = self.s3_storage(ChecksumAlgorithm="CRC32", ChecksumCRC32=checksum)
        try:
            with open(path, "rb") as handle:
                saved = storage.save(name, File(handle, name=posixpath.basename(name)))
            stored = storage.connection.meta.client.head_object(
                Bucket=self.bucket, Key=saved, ChecksumMode="ENABLED"
            )
        except ClientError as err:
            _raise_translated(err, region=self.region)

        found = {
            "bytes": stored.get("ContentLength"),
            "CRC32": stored.get("ChecksumCRC32"),
            "encryption": stored.get("ServerSideEncryption"),
        }
        wanted = {
            "bytes": size,
            "CRC32": checksum,
            "encryption": self.encryption()["ServerSideEncryption"],
        }
        if saved != name or found != wanted:
            raise BackendError(
                f"The object at s3://{self.bucket}/{saved} does not match {path.name}: "
                f"S3 holds {_facts(found)}; the file has {_facts(wanted)}. Nothing "
                "was made from it; run again.",
                operation="HeadObject",
                code="UploadMismatch",
            )
        logger.info("Uploaded %s (%d bytes) to %s", path.name, size, location)
        return location

    def delete_upload(self, location: str) -> None:
        bucket, key = _bucket_and_key(location)
        try:
            self.s3_storage(bucket).delete(key)
        except ClientError as err:
            _raise_translated(err, region=self.region)

    def open_upload(self, location: str) -> IO[bytes]:
        bucket, key = _bucket_and_key(location)
        storage = self.s3_storage(bucket)
        # django-storages opens lazily; ask first, so a deleted upload is a
        # FileNotFoundError here rather than an error on the first read.
        try:
            if not storage.exists(key):
                raise FileNotFoundError(f"{location} does not exist.")
            return storage.open(key, "rb")
        except ClientError as err:
            _raise_translated(err, region=self.region)

    def wait_for_endpoint(self, model_id: str) -> dict[str, Any]:
        """Poll a model until its endpoint is READY; return the endpoint.

        An endpoint that FAILED or is not READY in time is deleted before
        the error propagates.
        """
        try:
            return super().wait_for_endpoint(model_id)
        except (StepFailed, StepTimedOut):
            # An endpoint is billed by the hour while it exists, and this
            # run will never serve from it.
            self._delete_endpoint(model_id)
            raise

    def _delete_endpoint(self, model_id: str) -> None:
        try:
            self.delete("endpoint", model_id)
        except (BackendError, ClientError, TransportError, HTTPClientError) as err:
            logger.warning(
                "Could not delete the realtime endpoint of %s, which is not READY: "
                "%s; cleanup_models deletes it once a newer model serves.",
                model_id, err,
            )  # fmt: skip
        else:
            logger.warning(
                "Deleted the realtime endpoint of %s, which was not READY.", model_id
            )
