"""`cache ls | verify | prune` over the checkpoint store.

Last use is the stamp's mtime (every resolve touches it). An entry with a live lease is in use by
a running eval and is never pruned; a download in progress holds its digest lock and is skipped.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import Timeout

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.errors import OrchestratorError, StoreError, UserError
from eval_orchestrator.store.checkpoint_store import (
    EPHEMERAL,
    FILES,
    LEASES,
    PARTIAL_PREFIX,
    CheckpointStore,
    live_leases,
)
from eval_orchestrator.store.journal import JOURNAL
from eval_orchestrator.store.stamp import STAMP, read_stamp

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class CacheEntry:
    collection: str
    digest: str
    ref: str  # the version it was fetched as, e.g. local-registry/llm:v3
    path: Path  # the entry dir (files under path/files)
    files: int
    bytes: int  # bytes on disk
    last_used: float  # epoch seconds
    state: str  # kept | ephemeral | partial | damaged
    leases: int

    @property
    def in_use(self) -> bool:
        return self.leases > 0


def parse_duration(text: str) -> float:
    """'90s', '30m', '12h', '7d', '2w' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise UserError(f"duration {text!r} is not valid; write a number and a unit: 30m, 12h, 7d or 2w")
    return float(match.group(1)) * UNITS[match.group(2)]


def _disk_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_blocks * 512 for p in files)


def list_entries(store: CheckpointStore) -> list[CacheEntry]:
    base = store.root / "checkpoints"
    entries = []
    for entry_dir in sorted(base.glob("*/*")) if base.is_dir() else []:
        if not entry_dir.is_dir() or entry_dir.name.startswith(".trash-"):
            continue
        collection = entry_dir.parent.name
        if entry_dir.name.startswith(PARTIAL_PREFIX):
            journal = entry_dir / JOURNAL
            count, size = _disk_bytes(entry_dir / FILES)
            used = (journal if journal.exists() else entry_dir).stat().st_mtime
            digest = entry_dir.name.removeprefix(PARTIAL_PREFIX)
            label = f"{collection} (unfinished download)"
            entries.append(CacheEntry(collection, digest, label, entry_dir, count, size, used, "partial", 0))
            continue
        stamp_file = entry_dir / STAMP
        if not stamp_file.is_file():
            continue
        stamp = read_stamp(entry_dir)
        count, size = _disk_bytes(entry_dir / FILES)
        if stamp is None:  # listed (to be verified and discarded), not a KeyError
            label = f"{collection} (damaged stamp.json)"
            used = stamp_file.stat().st_mtime
            entries.append(CacheEntry(collection, entry_dir.name, label, entry_dir, count, size, used, "damaged", 0))
            continue
        state = "ephemeral" if (entry_dir / EPHEMERAL).exists() else "kept"
        leases = len(live_leases(entry_dir / LEASES))
        entries.append(
            CacheEntry(
                collection,
                entry_dir.name,
                str(stamp.ref),
                entry_dir,
                count,
                size,
                stamp_file.stat().st_mtime,
                state,
                leases,
            )
        )
    return entries


def _resolved_from_stamp(entry: CacheEntry) -> ResolvedCheckpoint | None:
    stamp = read_stamp(entry.path)
    return None if stamp is None else stamp.resolved()


def verify(store: CheckpointStore, entry: CacheEntry) -> str | None:
    """Re-hash every file of a stored checkpoint; the first problem, or None when it is exact."""
    try:
        resolved = _resolved_from_stamp(entry)
    except OrchestratorError as exc:  # a stamp naming a bad ref or an unsafe path
        return f"its stamp.json is damaged ({exc})"
    if resolved is None:
        return "its stamp.json is damaged (the next resolve fetches it again)"
    if resolved.digest != entry.digest:
        return f"its manifest digest is {resolved.digest}, not {entry.digest}"
    try:
        store.check(entry.path, resolved, rehash=True)
    except StoreError as exc:
        return str(exc)
    return None


def discard(store: CheckpointStore, entry: CacheEntry) -> bool:
    """Remove one entry unless a run uses it or a download holds its lock; True if removed."""
    try:
        with store.lock(entry.digest).acquire(timeout=0):
            if entry.state != "partial" and live_leases(entry.path / LEASES):
                return False
            trash = entry.path.with_name(f".trash-{entry.path.name}-{time.time_ns()}")
            entry.path.rename(trash)
    except (Timeout, FileNotFoundError):
        return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def prune_candidates(
    entries: list[CacheEntry], older_than: float | None, keep_latest: int | None, now: float | None = None
) -> list[CacheEntry]:
    """Entries to remove: not in use, older than ``older_than`` seconds, beyond the ``keep_latest``
    most recently used of their collection. With neither limit, every entry not in use."""
    now = time.time() if now is None else now
    keep: set[Path] = set()
    if keep_latest is not None:
        by_collection: dict[str, list[CacheEntry]] = {}
        for entry in entries:
            if entry.state not in ("partial", "damaged"):
                by_collection.setdefault(entry.collection, []).append(entry)
        for group in by_collection.values():
            keep.update(e.path for e in sorted(group, key=lambda e: -e.last_used)[:keep_latest])
    return [
        entry
        for entry in entries
        if not entry.in_use and entry.path not in keep and (older_than is None or entry.last_used < now - older_than)
    ]
