"""How a downloaded file proves it is the registered one, per kind of manifest digest.

W&B stores a base64 MD5 for files it holds, and the object's ETag for S3 references: the hex MD5
for a single-part upload, ``md5(part md5s)-N`` for a multipart one. Some ETags are not content
hashes at all (SSE-KMS, or a multipart object whose part size S3 will not tell): those are checked
by size and by the ETag the server reports, and we record our own MD5 so ``cache verify`` can still
catch later damage on disk.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eval_orchestrator.checkpoint import HASH_CHUNK

CheckKind = Literal["md5", "etag", "multipart", "size"]


@dataclass(frozen=True)
class Check:
    kind: CheckKind
    expected: str  # the manifest digest (for "size": the ETag, compared by the server only)
    part_size: int | None = None  # multipart: the size of every part but the last

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "expected": self.expected, "part_size": self.part_size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Check:
        return cls(data["kind"], data["expected"], data.get("part_size"))

    @property
    def per_part(self) -> bool:
        """True when the proof is built from part hashes, so parts verify in parallel."""
        return self.kind == "multipart"

    def whole_file_digest(self, md5: bytes) -> str:
        """The file's MD5 written the way this check compares it (multipart and size: hex)."""
        return base64.b64encode(md5).decode("ascii") if self.kind == "md5" else md5.hex()

    def multipart_digest(self, part_md5s: Iterable[bytes]) -> str:
        parts = list(part_md5s)
        return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"


def etag_parts(etag: str) -> int | None:
    """N for a multipart ETag ``<hex>-N``; None for a single-part one."""
    _, dash, count = etag.partition("-")
    return int(count) if dash and count.isdigit() else None


def md5_of_range(path: Path, start: int, end: int) -> bytes:
    hasher = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0 and (chunk := fh.read(min(HASH_CHUNK, left))):
            hasher.update(chunk)
            left -= len(chunk)
    return hasher.digest()


def digest_on_disk(path: Path, check: Check, size: int) -> str:
    """Recompute, from the file on disk, the digest ``check`` compares (for `cache verify`)."""
    if check.kind == "multipart" and check.part_size:
        bounds = range(0, max(size, 1), check.part_size)
        return check.multipart_digest(md5_of_range(path, s, min(s + check.part_size, size)) for s in bounds)
    return check.whole_file_digest(md5_of_range(path, 0, size))
