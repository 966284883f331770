"""Content-addressed checkpoint store: one verified copy per manifest digest.

Layout under the root (``WANDB_ARTIFACT_DIR`` or the user cache dir)::

    checkpoints/<collection>/<manifest digest>/files/...   the checkpoint (the path models load)
    checkpoints/<collection>/<manifest digest>/stamp.json   manifest + (size, mtime_ns) per file
    checkpoints/<collection>/<manifest digest>/ephemeral    present while no run asked to keep it
    checkpoints/<collection>/<manifest digest>/leases/<host>-<pid>   runs using an ephemeral copy
    locks/<manifest digest>.lock

A version is filled in a temp dir beside its final place, every file's MD5 checked against the
manifest while it streams in, then renamed into place in one atomic step, under a file lock.
So a directory that exists is complete, a crash leaves only a temp dir (swept later), and
concurrent resolvers wait for one download instead of reading half of it.

``keep=False`` (WANDB_CACHE_SKIP) uses the same content-addressed place, so model paths stay
stable for Inspect's log reuse and nothing is ever copied twice, but the copy is leased: when the
last run holding a lease releases it (or dies), the checkpoint is removed. A run with
``keep=True`` promotes an ephemeral copy to a kept one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from filelock import FileLock

from eval_orchestrator.errors import StoreError
from eval_orchestrator.registry.base import FileSource, ResolvedCheckpoint
from eval_orchestrator.store.manifest import ManifestEntry, b64_md5, file_digest

log = logging.getLogger(__name__)

STAMP = "stamp.json"
FILES = "files"
EPHEMERAL = "ephemeral"
LEASES = "leases"


@dataclass(frozen=True)
class Materialized:
    """A checkpoint on local disk, ready to load."""

    resolved: ResolvedCheckpoint
    path: Path
    bytes_copied: int  # 0 on a warm hit
    lease: Path | None = None  # set when the copy is not kept (WANDB_CACHE_SKIP)


def _safe_component(name: str) -> str:
    # Collection names are already restricted by the ref grammar; keep the store path free of ':'.
    return name.replace(":", "_").replace("/", "_")


class CheckpointStore:
    def __init__(self, root: str | Path, workers: int = 8) -> None:
        self.root = Path(root)
        self.workers = workers

    def entry_dir(self, resolved: ResolvedCheckpoint) -> Path:
        return self.root / "checkpoints" / _safe_component(resolved.collection) / resolved.digest

    def fetch(
        self,
        resolved: ResolvedCheckpoint,
        source: FileSource,
        verify: bool = False,
        on_bytes: Callable[[int], None] | None = None,
        keep: bool = True,
    ) -> Materialized:
        """Return the verified local directory of ``resolved``, materialising it if needed.

        With ``keep=False`` the result holds a lease; pass it to :meth:`release` when done.
        """
        final = self.entry_dir(resolved)
        if keep and not (final / EPHEMERAL).exists() and self._usable(final, resolved, verify):
            self._touch(final)
            return Materialized(resolved, final / FILES, 0)
        with self._lock(resolved.digest):
            # Another process may have finished it while we waited for the lock.
            copied = 0
            if not self._usable(final, resolved, verify):
                if final.exists():
                    self._discard(final)
                copied = self._materialize(resolved, source, final, on_bytes, ephemeral=not keep)
            else:
                self._touch(final)
            if keep:
                (final / EPHEMERAL).unlink(missing_ok=True)
                return Materialized(resolved, final / FILES, copied)
            lease = final / LEASES / _lease_name(os.getpid())
            lease.parent.mkdir(exist_ok=True)
            lease.touch()
            return Materialized(resolved, final / FILES, copied, lease)

    def release(self, item: Materialized) -> bool:
        """Drop ``item``'s lease; remove the checkpoint if it is ephemeral and unused. True if removed."""
        if item.lease is None:
            return False
        final = item.lease.parent.parent
        with self._lock(item.resolved.digest):
            item.lease.unlink(missing_ok=True)
            if not (final / EPHEMERAL).exists() or _live_leases(final / LEASES):
                return False
            self._discard(final)
            return True

    def _lock(self, digest: str) -> FileLock:
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "locks" / f"{digest}.lock"))

    # -- checks ------------------------------------------------------------------------------

    def _usable(self, final: Path, resolved: ResolvedCheckpoint, verify: bool) -> bool:
        stamp_file = final / STAMP
        if not stamp_file.is_file():
            return False
        try:
            self.check(final, resolved, rehash=verify)
        except StoreError as exc:
            log.warning("%s; discarding the stored copy and fetching it again", exc)
            return False
        return True

    def check(self, final: Path, resolved: ResolvedCheckpoint, rehash: bool) -> None:
        """Raise StoreError naming the first file that differs from what was verified."""
        stamp = json.loads((final / STAMP).read_text())
        recorded: dict[str, list[int]] = stamp["files"]
        label = f"{resolved.collection}:{resolved.version}"
        for path, entry in resolved.manifest.entries.items():
            file = final / FILES / path
            try:
                st = file.stat()
            except FileNotFoundError:
                raise StoreError(f"stored checkpoint {label} is missing {path!r}") from None
            size, mtime_ns = recorded.get(path, [-1, -1])
            if st.st_size != entry.size or st.st_size != size or st.st_mtime_ns != mtime_ns:
                raise StoreError(f"stored file {path!r} of {label} was modified after it was verified")
            if rehash and file_digest(file)[0] != entry.digest:
                raise StoreError(f"stored file {path!r} of {label} does not match its digest")

    # -- filling -----------------------------------------------------------------------------

    def _materialize(
        self,
        resolved: ResolvedCheckpoint,
        source: FileSource,
        final: Path,
        on_bytes: Callable[[int], None] | None,
        ephemeral: bool,
    ) -> int:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".partial-{resolved.digest}-", dir=final.parent))
        try:
            entries = list(resolved.manifest.entries.values())
            sizes = self._fetch_all(resolved, source, entries, staging, on_bytes)
            stats = {e.path: (staging / FILES / e.path).stat() for e in entries}
            files = {path: [st.st_size, st.st_mtime_ns] for path, st in stats.items()}
            stamp = {
                "ref": str(resolved.version_ref),
                "digest": resolved.digest,
                "manifest": resolved.manifest.to_json(),
                "files": files,
            }
            (staging / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True))
            if ephemeral:
                (staging / EPHEMERAL).touch()
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return sum(sizes)

    def _fetch_all(
        self,
        resolved: ResolvedCheckpoint,
        source: FileSource,
        entries: list[ManifestEntry],
        staging: Path,
        on_bytes: Callable[[int], None] | None,
    ) -> list[int]:
        # On the first failure, Ctrl-C or SIGTERM, the other workers stop at their next chunk and
        # queued files never start, so an interrupted download exits in moments, not at its end.
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            futures = [pool.submit(self._fetch_entry, resolved, source, e, staging, on_bytes, stop) for e in entries]
            return [future.result() for future in futures]
        except BaseException:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    def _fetch_entry(
        self,
        resolved: ResolvedCheckpoint,
        source: FileSource,
        entry: ManifestEntry,
        staging: Path,
        on_bytes: Callable[[int], None] | None,
        stop: threading.Event,
    ) -> int:
        label = f"{resolved.collection}:{resolved.version}"
        relative = PurePosixPath(entry.path)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise StoreError(f"manifest of {label} lists an unsafe path {entry.path!r}; refusing it")
        dest = staging / FILES / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.md5(usedforsecurity=False)
        size = 0
        with dest.open("wb") as out:
            for chunk in source.iter_bytes(entry):
                if stop.is_set():
                    raise StoreError(f"download of {label} stopped")
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        if size != entry.size:
            raise StoreError(
                f"file {entry.path!r} of {label} has {size} bytes, the manifest says {entry.size}; "
                "the source is truncated or changed, refusing it"
            )
        if b64_md5(hasher) != entry.digest:
            raise StoreError(
                f"file {entry.path!r} of {label} does not match its manifest digest; "
                "the source is corrupted or changed, refusing it"
            )
        return size

    # -- housekeeping ------------------------------------------------------------------------

    def _touch(self, final: Path) -> None:
        # The stamp's mtime records last use, for `cache ls` and pruning.
        now = time.time()
        with contextlib.suppress(OSError):
            os.utime(final / STAMP, (now, now))

    def _discard(self, final: Path) -> None:
        trash = final.with_name(f".trash-{final.name}-{os.getpid()}")
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _lease_name(pid: int) -> str:
    return f"{socket.gethostname()}-{pid}"


def _live_leases(leases: Path) -> list[Path]:
    """Leases whose process may still run: other hosts' leases always count (we cannot see them)."""
    host = socket.gethostname()
    live = []
    for lease in leases.glob("*") if leases.is_dir() else []:
        lease_host, _, pid = lease.name.rpartition("-")
        if lease_host == host and pid.isdigit() and not _pid_alive(int(pid)):
            lease.unlink(missing_ok=True)  # its process died without releasing it
            continue
        live.append(lease)
    return live


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
