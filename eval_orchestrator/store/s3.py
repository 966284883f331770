"""S3 reference entries (``s3://bucket/key``) through boto3: exact versions, ranged parallel reads.

An entry's digest is the object's ETag as registered (W&B's S3 handler records the same), and
``extra.versionID`` when the bucket is versioned. We fetch exactly that version when one is
recorded, and otherwise send ``If-Match: <ETag>`` with every request, so an object overwritten
since registration is refused by S3 itself before a byte of it is used.

Credentials come from boto3's usual chain (env, profile, instance role); nothing AWS is touched
unless a checkpoint has S3 entries.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlparse

from eval_orchestrator.errors import StoreError, UserError, VerificationFailed
from eval_orchestrator.store.checks import Check, etag_parts
from eval_orchestrator.store.manifest import ManifestEntry
from eval_orchestrator.store.sources import FilePlan, RangeCorrupted

S3Client = Any  # boto3's client classes are generated at runtime

log = logging.getLogger(__name__)

# Service-specific first; AWS_S3_ENDPOINT_URL is the one W&B's own S3 handler reads.
ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
CHUNK = 1024 * 1024
TRANSIENT_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeoutException",
}


def endpoint_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The S3 endpoint from the first of ENDPOINT_VARS that is set; None means AWS itself."""
    env = os.environ if environ is None else environ
    for name in ENDPOINT_VARS:
        value = env.get(name, "").strip()
        if not value:
            continue
        if not re.match(r"^https?://[^/]", value):
            raise UserError(
                f"{name}={value!r} is not a URL; write it with its scheme, e.g. http://{value} (or https:// for TLS)"
            )
        return value
    return None


def make_client(workers: int) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=workers + 4,
        # botocore retries the request itself; our engine retries the body stream on top.
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=60,
        tcp_keepalive=True,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url(), config=config)


def split_uri(uri: str) -> tuple[str, str, str | None]:
    """(bucket, key, versionId from the query) of ``s3://bucket/key[?versionId=V]``."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserError(f"{uri!r} is not an S3 URI; write s3://bucket/prefix")
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    return parsed.netloc, parsed.path.lstrip("/"), version


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        HTTPClientError,
        IncompleteReadError,
    )

    if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError):
        return True
    if isinstance(exc, ClientError):
        return _status(exc) >= 500 or _status(exc) == 429 or _code(exc) in TRANSIENT_CODES
    return False


class S3Source:
    """A RangedSource for ``s3://`` entries of one checkpoint version (``label`` names it in errors)."""

    def __init__(self, label: str, workers: int, client: S3Client | None = None) -> None:
        self.label = label
        self.client = client if client is not None else make_client(workers)

    # -- the RangedSource protocol -----------------------------------------------------------

    def plan(self, entry: ManifestEntry, range_size: int) -> FilePlan:
        head = self._call(entry, "head_object", **self._object_args(entry))
        if int(head["ContentLength"]) != entry.size:
            raise VerificationFailed(
                f"{self._where(entry)} has {head['ContentLength']} bytes, the manifest says {entry.size}; "
                "it changed after it was registered, refusing it"
            )
        check = self._check(entry, head)
        if check.kind == "multipart" and check.part_size:
            step = check.part_size
            span = max(1, round(range_size / step)) * step
        else:
            step = span = max(range_size, 1)
        return FilePlan(entry, check, range_size=span, hash_step=step, resumable=True)

    def iter_range(self, entry: ManifestEntry, start: int, end: int) -> Iterator[bytes]:
        args = self._object_args(entry)
        response = self._call(entry, "get_object", Range=f"bytes={start}-{end - 1}", **args)
        from botocore.exceptions import FlexibleChecksumError

        body = response["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        except FlexibleChecksumError as exc:  # S3's checksum of a whole-object response
            raise RangeCorrupted(str(exc)) from None
        finally:
            body.close()

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    # -- helpers -----------------------------------------------------------------------------

    def _object_args(self, entry: ManifestEntry) -> dict[str, str]:
        bucket, key, query_version = split_uri(entry.ref or "")
        args = {"Bucket": bucket, "Key": key, "IfMatch": f'"{entry.digest}"'}
        version = entry.extra.get("versionID") or query_version
        if version:
            args["VersionId"] = str(version)
        return args

    def _check(self, entry: ManifestEntry, head: Mapping[str, Any]) -> Check:
        etag = entry.digest
        if head.get("SSECustomerAlgorithm") or head.get("ServerSideEncryption") == "aws:kms":
            # With SSE-KMS or SSE-C the ETag is not an MD5 of the bytes.
            return Check("size", etag)
        parts = etag_parts(etag)
        if parts is None:
            return Check("etag", etag)
        part_size = self._part_size(entry, parts)
        if part_size is None:
            log.info("%s: part size unknown, checking its size and ETag only", self._where(entry))
            return Check("size", etag)
        return Check("multipart", etag, part_size)

    def _part_size(self, entry: ManifestEntry, parts: int) -> int | None:
        """The size of the object's parts (all but the last), from a HEAD of part 1."""
        args = self._object_args(entry)
        args.pop("IfMatch")  # some servers compare it with the part's own ETag
        try:
            first = self._call(entry, "head_object", PartNumber=1, **args)
        except StoreError:
            return None
        size = int(first.get("ContentLength") or 0)
        count = int(first.get("PartsCount") or parts)
        if size <= 0 or count != parts or -(-entry.size // size) != parts:
            return None
        return size

    def _where(self, entry: ManifestEntry) -> str:
        return f"{entry.ref} (file {entry.path!r} of {self.label})"

    def _call(self, entry: ManifestEntry, operation: str, **args: Any) -> Any:
        from botocore.exceptions import ClientError, NoCredentialsError

        try:
            return getattr(self.client, operation)(**args)
        except NoCredentialsError:
            raise StoreError(
                f"no AWS credentials to read {entry.ref}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE (see .env.example)"
            ) from None
        except ClientError as exc:
            if is_transient(exc):
                raise
            raise self._client_error(entry, exc, args) from None

    def _client_error(self, entry: ManifestEntry, exc: Exception, args: Mapping[str, Any]) -> StoreError:
        code, status = _code(exc), _status(exc)
        where = self._where(entry)
        version = args.get("VersionId")
        if code in ("PreconditionFailed", "412") or status == 412:
            return VerificationFailed(
                f"{where} was overwritten after it was registered: {self._now(entry)}; refusing it"
            )
        if version and code in ("NoSuchVersion", "InvalidArgument", "404", "NoSuchKey"):
            return VerificationFailed(
                f"version {version} of {where} no longer exists; the checkpoint cannot be fetched"
            )
        if code in ("NoSuchKey", "404", "NotFound"):
            return VerificationFailed(f"{where} no longer exists; the checkpoint cannot be fetched")
        if code == "NoSuchBucket":
            return StoreError(f"bucket of {where} does not exist; check the endpoint (AWS_ENDPOINT_URL)")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StoreError(f"S3 refused access to {where} ({code}); check the AWS credentials")
        return StoreError(f"reading {where} failed: {code or status} {exc}")

    def _now(self, entry: ManifestEntry) -> str:
        """What the object looks like now, for the error that refuses it."""
        bucket, key, _ = split_uri(entry.ref or "")
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except Exception:
            return f"its ETag is no longer {entry.digest}"
        return (
            f"its ETag is now {str(head.get('ETag', '')).strip(chr(34))} (registered {entry.digest}), "
            f"{head.get('ContentLength')} bytes (registered {entry.size}), modified {head.get('LastModified')}"
        )


def list_reference(uri: str, workers: int = 8, client: S3Client | None = None) -> list[ManifestEntry]:
    """Manifest entries for every object under ``s3://bucket/prefix``, as W&B's add_reference records them.

    A URI naming one object gives one entry named after its basename. Versioned buckets get each
    object's current versionID, so the registration pins exactly the bytes seen now.
    """
    from botocore.exceptions import ClientError, NoCredentialsError

    bucket, key, version = split_uri(uri)
    s3 = client if client is not None else make_client(workers)
    try:
        if key and not key.endswith("/"):
            try:
                head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
                return [_entry(key.rsplit("/", 1)[-1], bucket, key, head)]
            except ClientError as exc:
                if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
        prefix = key.rstrip("/") + "/" if key else ""
        keys = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if obj["Size"] > 0  # W&B skips empty "folder" markers too
        ]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            heads = list(pool.map(lambda k: s3.head_object(Bucket=bucket, Key=k), keys))
    except NoCredentialsError:
        raise UserError(
            f"no AWS credentials to list {uri}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        ) from None
    except ClientError as exc:
        raise UserError(f"cannot list {uri}: {_code(exc) or _status(exc)} {exc}") from None
    if not keys:
        raise UserError(f"no objects under {uri}; check the bucket and prefix")
    return [_entry(k[len(prefix) :], bucket, k, head) for k, head in zip(keys, heads, strict=True)]


def _entry(path: str, bucket: str, key: str, head: Mapping[str, Any]) -> ManifestEntry:
    etag = str(head["ETag"]).strip('"')
    extra: dict[str, Any] = {"etag": etag}
    version = head.get("VersionId")
    if version and version != "null":
        extra["versionID"] = version
    return ManifestEntry(path, etag, int(head["ContentLength"]), f"s3://{bucket}/{key}", extra)
