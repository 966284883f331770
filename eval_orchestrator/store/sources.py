"""What the download engine asks of a byte source: a plan per file, and the bytes of a range.

S3 serves any byte range, so a large object comes down as parallel ranged requests and a dropped
connection resumes where it stopped. A registry source that can only stream a whole file (the
local registry, W&B's file URLs) is adapted to one range per file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from eval_orchestrator.checkpoint import FileSource, ManifestEntry
from eval_orchestrator.store.checks import Check


class RangeCorrupted(Exception):
    """The source's own checksum caught bad bytes in a range: fetch the whole range again."""


@dataclass(frozen=True)
class FilePlan:
    """How one manifest entry is fetched and proven.

    Ranges are ``range_size`` bytes, aligned to multiples of it; hashes restart every
    ``hash_step`` bytes (the object's part size for a multipart ETag, else the range size),
    so each range verifies on its own and a resumed download can re-check what it kept.
    """

    entry: ManifestEntry
    check: Check
    range_size: int
    hash_step: int
    resumable: bool  # a range can restart at any offset (a retry continues where it stopped)

    @property
    def size(self) -> int:
        return self.entry.size

    def ranges(self) -> list[tuple[int, int]]:
        if self.size == 0:
            return [(0, 0)]
        return [(start, min(start + self.range_size, self.size)) for start in range(0, self.size, self.range_size)]


class RangedSource(Protocol):
    def plan(self, entry: ManifestEntry, range_size: int) -> FilePlan: ...

    def iter_range(self, entry: ManifestEntry, start: int, end: int) -> Iterator[bytes]: ...

    def is_transient(self, exc: BaseException) -> bool: ...


class WholeFileSource:
    """A registry FileSource as a RangedSource: one range per file, proven by its base64 MD5."""

    def __init__(self, source: FileSource) -> None:
        self.source = source

    def plan(self, entry: ManifestEntry, range_size: int) -> FilePlan:
        span = max(entry.size, 1)
        return FilePlan(entry, Check("md5", entry.digest), range_size=span, hash_step=span, resumable=False)

    def iter_range(self, entry: ManifestEntry, start: int, end: int) -> Iterator[bytes]:
        assert start == 0, "whole-file sources are read from the start"
        return self.source.iter_bytes(entry)

    def is_transient(self, exc: BaseException) -> bool:
        return False  # these sources retry their own requests before the first byte
