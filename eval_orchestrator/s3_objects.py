"""S3 objects through boto3, for every part that touches S3: the endpoint and client, URIs, which
errors are worth retrying, and listing a prefix as manifest entries (what registering a
checkpoint by reference records, as W&B's ``add_reference`` does).

Credentials come from boto3's usual chain (env, profile, instance role); nothing AWS is touched
unless a checkpoint has S3 entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlparse

from eval_orchestrator import env
from eval_orchestrator.checkpoint import ManifestEntry
from eval_orchestrator.errors import Unavailable, UserError

S3Client = Any  # boto3's client classes are generated at runtime

# Service-specific first; AWS_S3_ENDPOINT_URL is the one W&B's own S3 handler reads.
ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
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
    for name in ENDPOINT_VARS:
        value = (env.get(name, environ) or "").strip()
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


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def status_code(exc: BaseException) -> int:
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
        return status_code(exc) >= 500 or status_code(exc) == 429 or error_code(exc) in TRANSIENT_CODES
    return False


def list_reference(uri: str, workers: int = 8, client: S3Client | None = None) -> list[ManifestEntry]:
    """Manifest entries for every object under ``s3://bucket/prefix``, as W&B's add_reference records them.

    A URI naming one object gives one entry named after its basename. Versioned buckets get each
    object's current versionID, so the registration pins exactly the bytes seen now.
    """
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
    )

    bucket, key, version = split_uri(uri)
    s3 = client if client is not None else make_client(workers)
    try:
        if key and not key.endswith("/"):
            try:
                head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
                return [_entry(key.rsplit("/", 1)[-1], bucket, key, head)]
            except ClientError as exc:
                if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
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
        status = status_code(exc) or 0
        if status >= 500 or error_code(exc) in ("SlowDown", "ServiceUnavailable", "InternalError"):
            raise Unavailable(f"S3 failed while listing {uri}: {error_code(exc) or status}; try again later") from None
        raise UserError(f"cannot list {uri}: {error_code(exc) or status} {exc}") from None
    except ParamValidationError as exc:
        raise UserError(f"{uri} is not a valid S3 location: {str(exc).splitlines()[-1][:200]}") from None
    except (EndpointConnectionError, ConnectionError) as exc:
        raise Unavailable(
            f"the S3 endpoint did not answer while listing {uri} ({type(exc).__name__}); check AWS_ENDPOINT_URL "
            "and the network, then try again"
        ) from None
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
