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
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from eval_orchestrator.checkpoint import FileSource, ManifestEntry, ResolvedCheckpoint
from eval_orchestrator.errors import DiskFull, OrchestratorError, StoreError, Unavailable, VerificationFailed, disk_full
from eval_orchestrator.store import space
from eval_orchestrator.store.checks import Check, digest_on_disk
from eval_orchestrator.store.download import Downloader, safe_relative
from eval_orchestrator.store.journal import JOURNAL, Journal
from eval_orchestrator.store.s3 import S3Source
from eval_orchestrator.store.sources import FilePlan, RangedSource, WholeFileSource
from eval_orchestrator.store.stamp import STAMP, Stamp, read_stamp

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
DEFAULT_PART_SIZE = 64 * 1024 * 1024
DEFAULT_RETRIES = 8
PARTIAL_PREFIX = ".partial-"
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
    def __init__(
        self,
        root: str | Path,
        workers: int = DEFAULT_WORKERS,
        part_size: int = DEFAULT_PART_SIZE,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.root = Path(root)
        self.workers = workers
        self.part_size = part_size
        self.retries = retries

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
        with self.lock(resolved.digest):
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

    def stored(self, collection: str, digest: str) -> Materialized | None:
        """The kept copy of ``digest``, when the store holds it intact (no registry asked: a locked run)."""
        final = self.root / "checkpoints" / _safe_component(collection) / digest
        stamp = read_stamp(final)
        if stamp is None or (final / EPHEMERAL).exists():
            return None
        try:
            resolved = stamp.resolved()
            if resolved.digest != digest:
                return None
            self.check(final, resolved, rehash=False)
        except OrchestratorError:
            return None
        self._touch(final)
        return Materialized(resolved, final / FILES, 0)

    def release(self, item: Materialized) -> bool:
        """Drop ``item``'s lease; remove the checkpoint if it is ephemeral and unused. True if removed."""
        if item.lease is None:
            return False
        final = item.lease.parent.parent
        with self.lock(item.resolved.digest):
            item.lease.unlink(missing_ok=True)
            if not (final / EPHEMERAL).exists() or live_leases(final / LEASES):
                return False
            self._discard(final)
            return True

    def lock(self, digest: str) -> FileLock:
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
        label = f"{resolved.collection}:{resolved.version}"
        stamp = read_stamp(final)
        if stamp is None:
            raise StoreError(f"the stamp.json of stored checkpoint {label} is damaged")
        recorded = stamp.files
        for path, entry in resolved.manifest.entries.items():
            file = final / FILES / path
            try:
                st = file.stat()
            except FileNotFoundError:
                raise StoreError(f"stored checkpoint {label} is missing {path!r}") from None
            size, mtime_ns = recorded.get(path, (-1, -1))
            if st.st_size != entry.size or st.st_size != size or st.st_mtime_ns != mtime_ns:
                raise StoreError(f"stored file {path!r} of {label} was modified after it was verified")
            if rehash and not self._digest_matches(file, entry, stamp):
                raise StoreError(f"stored file {path!r} of {label} does not match its digest")

    @staticmethod
    def _digest_matches(file: Path, entry: ManifestEntry, stamp: Stamp) -> bool:
        raw = stamp.checks.get(entry.path)
        check = Check.from_json(raw) if raw else Check("md5", entry.digest)
        # A "size" check has no content hash in the manifest: compare with our MD5 from the download.
        expected = stamp.local_md5.get(entry.path) if check.kind == "size" else check.expected
        return expected is not None and digest_on_disk(file, check, entry.size) == expected

    # -- filling -----------------------------------------------------------------------------

    def partial_dir(self, resolved: ResolvedCheckpoint) -> Path:
        """Where an unfinished download of ``resolved`` lives (and resumes) until it is renamed."""
        return self.entry_dir(resolved).with_name(f"{PARTIAL_PREFIX}{resolved.digest}")

    def _materialize(
        self,
        resolved: ResolvedCheckpoint,
        source: FileSource,
        final: Path,
        on_bytes: Callable[[int], None] | None,
        ephemeral: bool,
    ) -> int:
        staging = self.partial_dir(resolved)
        label = f"{resolved.collection}:{resolved.version}"
        needed = resolved.manifest.total_bytes - space.folder_bytes(staging / FILES)  # a resumed one has some
        space.make_room(self.root, needed, label, lambda: space.sweep_dead_partials(
            self.root, PARTIAL_PREFIX, staging, self.lock))  # fmt: skip
        (staging / FILES).mkdir(parents=True, exist_ok=True)
        journal = Journal(staging)
        downloader = Downloader(label, staging / FILES, journal, self.workers, self.retries, on_bytes)
        try:
            jobs = self._plan(resolved, source, label)
            results = downloader.run(jobs)
            Stamp(
                ref=resolved.version_ref,
                digest=resolved.digest,
                manifest=resolved.manifest.to_json(),
                files={path: (r.size, r.mtime_ns) for path, r in results.items()},
                checks={path: r.check.to_json() for path, r in results.items()},
                local_md5={path: r.local_md5 for path, r in results.items() if r.local_md5},
            ).write(staging)
            if ephemeral:
                (staging / EPHEMERAL).touch()
            journal.close()
            (staging / JOURNAL).unlink()
            os.rename(staging, final)
        except BaseException as exc:
            journal.close()
            # Bad source bytes, or a copy nobody keeps: nothing stays. An interrupted or failed
            # transfer of a kept checkpoint stays hidden in the partial dir, for the next run to resume.
            # A full disk: the partial would keep it full for every later run, so it goes too.
            if ephemeral or isinstance(exc, VerificationFailed) or disk_full(exc):
                shutil.rmtree(staging, ignore_errors=True)
            if disk_full(exc):
                raise DiskFull(
                    f"the disk filled while fetching {label} into {self.root}; the unfinished download was removed. "
                    f"It needs {resolved.manifest.total_bytes:,} bytes: free space (`eval-orchestrator cache prune`) "
                    "or point WANDB_ARTIFACT_DIR at a bigger disk, and run again"
                ) from None
            raise
        return downloader.copied

    def _plan(
        self, resolved: ResolvedCheckpoint, source: FileSource, label: str
    ) -> list[tuple[FilePlan, RangedSource]]:
        whole = WholeFileSource(source)
        s3: S3Source | None = None
        routed: list[tuple[ManifestEntry, RangedSource]] = []
        for entry in resolved.manifest.entries.values():
            safe_relative(entry.path, label)
            if entry.ref and entry.ref.startswith("s3://"):
                # Created only now: AWS settings matter only to checkpoints with S3 entries.
                s3 = s3 or S3Source(label, self.workers)
                routed.append((entry, s3))
            else:
                routed.append((entry, whole))

        def plan_one(item: tuple[ManifestEntry, RangedSource]) -> tuple[FilePlan, RangedSource]:
            entry, ranged = item
            try:
                for attempt in Retrying(
                    retry=retry_if_exception(ranged.is_transient),
                    stop=stop_after_attempt(self.retries),
                    wait=wait_exponential_jitter(initial=0.2, max=10),
                    reraise=True,
                ):
                    with attempt:
                        return ranged.plan(entry, self.part_size), ranged
            except Exception as exc:
                if not ranged.is_transient(exc):
                    raise
                raise Unavailable(
                    f"cannot read {entry.ref or entry.path} (file {entry.path!r} of {label}) after "
                    f"{self.retries} attempts: {exc}; check the endpoint and the network"
                ) from None
            raise AssertionError("unreachable")

        if s3 is None:
            return [plan_one(item) for item in routed]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:  # one HEAD per S3 object
            return list(pool.map(plan_one, routed))

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


def live_leases(leases: Path) -> list[Path]:
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
