"""S3 reference entries (``s3://bucket/key``) through boto3: exact versions, ranged parallel reads.

An entry's digest is the object's ETag as registered (W&B's S3 handler records the same), and
``extra.versionID`` when the bucket is versioned. We fetch exactly that version when one is
recorded, and otherwise send ``If-Match: <ETag>`` with every request, so an object overwritten
since registration is refused by S3 itself before a byte of it is used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from eval_orchestrator.checkpoint import ManifestEntry
from eval_orchestrator.errors import OrchestratorError, StoreError, VerificationFailed
from eval_orchestrator.s3_objects import S3Client, error_code, is_transient, make_client, split_uri, status_code
from eval_orchestrator.store.checks import Check, etag_parts
from eval_orchestrator.store.sources import FilePlan, RangeCorrupted

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


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
        except (StoreError, VerificationFailed):
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

    def _client_error(self, entry: ManifestEntry, exc: Exception, args: Mapping[str, Any]) -> OrchestratorError:
        code, status = error_code(exc), status_code(exc)
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
