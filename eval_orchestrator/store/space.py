"""Disk space for a download: checked before the first byte, reclaimed from dead downloads, and
given back when the disk fills anyway.

An unfinished download (``.partial-<digest>``) is kept so the next run resumes it; its digest's
lock is held while a process writes it. So a partial whose lock we can take at once belongs to no
live process, and when a download needs room those are swept first (by lock, not by age).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from eval_orchestrator.errors import DiskFull

log = logging.getLogger(__name__)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def sweep_dead_partials(root: Path, prefix: str, keep: Path, lock_for: Callable[[str], FileLock]) -> int:
    """Remove unfinished downloads no live process holds (other than ``keep``); returns bytes freed."""
    freed = 0
    for partial in root.glob(f"checkpoints/*/{prefix}*"):
        if partial == keep or not partial.is_dir():
            continue
        lock = lock_for(partial.name.removeprefix(prefix))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # a live download: not ours to touch
        try:
            size = folder_bytes(partial)
            shutil.rmtree(partial, ignore_errors=True)
            freed += size
            log.warning("removed the unfinished download %s (%d bytes) to make room", partial.name, size)
        finally:
            lock.release()
    return freed


def make_room(root: Path, needed: int, label: str, sweep: Callable[[], int]) -> None:
    """Refuse before writing when ``needed`` bytes cannot fit, after sweeping dead partials."""
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free >= needed:
        return
    free += sweep()
    if free < needed:
        raise DiskFull(
            f"{label} needs {needed:,} more bytes in {root}, only {free:,} are free; free space "
            "(`eval-orchestrator cache prune`, or point WANDB_ARTIFACT_DIR at a bigger disk) and run again"
        )
