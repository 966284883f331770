"""The download engine: every file's ranges in one bounded pool, written in place and proven.

Each range streams in 1 MiB chunks straight to its offset in the staging file (``pwrite``; no
second copy, memory bounded by workers x chunk), hashed on the way. A transient failure (5xx,
throttling, a dropped connection) retries with backoff and, where the source allows, continues at
the byte it stopped at. Finished ranges and files go to the journal, so a run that is killed
resumes without fetching them again. On any failure, Ctrl-C or SIGTERM, the other workers stop at
their next chunk and queued ranges never start.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from eval_orchestrator.errors import OrchestratorError, StoreError, Unavailable, VerificationFailed, disk_full
from eval_orchestrator.store.checks import Check, md5_of_range
from eval_orchestrator.store.journal import Journal
from eval_orchestrator.store.sources import FilePlan, RangeCorrupted, RangedSource


class _Stopped(StoreError):
    pass


class _ShortRead(Exception):
    """The source ended a range early (a dropped connection that looked like a clean end)."""


@dataclass(frozen=True)
class FileResult:
    path: str
    size: int
    mtime_ns: int
    check: Check
    local_md5: str | None  # our own MD5 (hex), kept where the manifest digest is not a content hash


@dataclass
class _File:
    plan: FilePlan
    source: RangedSource
    dest: Path
    fd: int
    pending: int = 0
    step_md5s: dict[int, bytes] = field(default_factory=dict)  # hash step start -> MD5
    lock: threading.Lock = field(default_factory=threading.Lock)


def safe_relative(path: str, label: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise VerificationFailed(f"manifest of {label} lists an unsafe path {path!r}; refusing it")
    return relative


class Downloader:
    def __init__(
        self,
        label: str,
        files_dir: Path,
        journal: Journal,
        workers: int,
        retries: int,
        on_bytes: Callable[[int], None] | None = None,
        retry_wait_max: float = 10.0,
    ) -> None:
        self.label = label
        self.files_dir = files_dir
        self.journal = journal
        self.workers = workers
        self.retries = retries
        self.on_bytes = on_bytes or (lambda _: None)
        self.retry_wait_max = retry_wait_max
        self.stop = threading.Event()
        self.results: dict[str, FileResult] = {}
        self.copied = 0
        self._copied_lock = threading.Lock()

    def run(self, jobs: list[tuple[FilePlan, RangedSource]]) -> dict[str, FileResult]:
        files: list[_File] = []
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="download")
        futures: list[Future[None]] = []
        try:
            # Largest files first, so the long transfer starts while small ones fill the gaps.
            for plan, source in sorted(jobs, key=lambda job: -job[0].size):
                file = self._open(plan, source)
                if file is None:
                    continue
                files.append(file)
                todo = self._ranges_to_fetch(file)
                file.pending = len(todo)
                if not todo:
                    futures.append(pool.submit(self._finish, file))
                futures.extend(pool.submit(self._fetch_range, file, start, end) for start, end in todo)
            for future in futures:
                future.result()
            return self.results
        except BaseException:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            for file in files:
                os.close(file.fd)

    # -- planning and resuming ---------------------------------------------------------------

    def _open(self, plan: FilePlan, source: RangedSource) -> _File | None:
        path = plan.entry.path
        dest = self.files_dir / safe_relative(path, self.label)
        done = self.journal.finished_file(path)
        if done is not None:
            try:
                st = dest.stat()
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_size, st.st_mtime_ns) == (done["size"], done["mtime_ns"]):
                self.results[path] = FileResult(path, st.st_size, st.st_mtime_ns, plan.check, done.get("local_md5"))
                self.on_bytes(plan.size)  # already here from an interrupted run
                return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(dest, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(fd).st_size != plan.size:
            os.ftruncate(fd, plan.size)
        return _File(plan, source, dest, fd)

    def _ranges_to_fetch(self, file: _File) -> list[tuple[int, int]]:
        todo = []
        for start, end in file.plan.ranges():
            kept = self.journal.range_md5s(file.plan.entry.path, start, end)
            steps = list(self._steps(file.plan, start, end))
            if kept is not None and len(kept) == len(steps):
                fresh = [md5_of_range(file.dest, s, e) for s, e in steps]
                if [m.hex() for m in fresh] == kept:
                    file.step_md5s.update({s: m for (s, _), m in zip(steps, fresh, strict=True)})
                    self.on_bytes(end - start)
                    continue
            todo.append((start, end))
        return todo

    @staticmethod
    def _steps(plan: FilePlan, start: int, end: int) -> list[tuple[int, int]]:
        if start == end:
            return [(start, end)]
        return [(s, min(s + plan.hash_step, end)) for s in range(start, end, plan.hash_step)]

    # -- fetching ----------------------------------------------------------------------------

    def _fetch_range(self, file: _File, start: int, end: int) -> None:
        plan = file.plan
        steps = self._steps(plan, start, end)
        state = {"pos": start, "step": 0}
        hashers = [hashlib.md5(usedforsecurity=False)]

        def restart_unless_resumable(retry_state: RetryCallState) -> None:
            failure = retry_state.outcome.exception() if retry_state.outcome else None
            if not plan.resumable or isinstance(failure, RangeCorrupted):
                state.update(pos=start, step=0)
                hashers[:] = [hashlib.md5(usedforsecurity=False)]

        retrying = Retrying(
            retry=retry_if_exception(
                lambda exc: (
                    isinstance(exc, _ShortRead | RangeCorrupted)
                    or (file.source.is_transient(exc) and not disk_full(exc))
                )  # a full disk stays full on retry
            ),
            stop=stop_after_attempt(self.retries if plan.resumable else 1),
            wait=wait_exponential_jitter(initial=0.2, max=self.retry_wait_max),
            sleep=self._sleep,
            before_sleep=restart_unless_resumable,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._stream(file, start, end, steps, state, hashers)
        except _ShortRead:
            if plan.resumable:
                raise Unavailable(
                    f"downloading {plan.entry.path!r} of {self.label} kept ending early after "
                    f"{self.retries} attempts; the connection to the source is unreliable"
                ) from None
            raise VerificationFailed(
                f"file {plan.entry.path!r} of {self.label} has {state['pos']} bytes, the manifest says "
                f"{plan.size}; the source is truncated or changed, refusing it"
            ) from None
        except OrchestratorError:
            raise
        except Exception as exc:
            if file.source.is_transient(exc) and not disk_full(exc):
                raise Unavailable(
                    f"downloading {plan.entry.path!r} of {self.label} failed after {self.retries} attempts: {exc}"
                ) from None
            raise
        md5s = [h.digest() for h in hashers]
        self.journal.record_range(plan.entry.path, start, end, [m.hex() for m in md5s])
        with file.lock:
            file.step_md5s.update({s: m for (s, _), m in zip(steps, md5s, strict=True)})
            file.pending -= 1
            last = file.pending == 0
        if last:
            self._finish(file)

    def _stream(
        self,
        file: _File,
        start: int,
        end: int,
        steps: list[tuple[int, int]],
        state: dict[str, int],
        hashers: list[hashlib._Hash],
    ) -> None:
        if start == end:
            return
        entry = file.plan.entry
        pos, step = state["pos"], state["step"]
        for chunk in file.source.iter_range(entry, pos, end):
            if self.stop.is_set():
                raise _Stopped(f"download of {self.label} stopped")
            view = memoryview(chunk)
            while view:
                if pos >= end:
                    raise VerificationFailed(
                        f"file {entry.path!r} of {self.label} has more bytes than the manifest's "
                        f"{entry.size}; the source is changed, refusing it"
                    )
                take = min(len(view), steps[step][1] - pos)
                piece = view[:take]
                written = 0
                while written < take:
                    written += os.pwrite(file.fd, piece[written:], pos + written)
                hashers[-1].update(piece)
                pos += take
                view = view[take:]
                if pos == steps[step][1] and step + 1 < len(steps):
                    step += 1
                    hashers.append(hashlib.md5(usedforsecurity=False))
            state.update(pos=pos, step=step)
            with self._copied_lock:
                self.copied += len(chunk)
            self.on_bytes(len(chunk))
        if pos != end:
            raise _ShortRead()

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise _Stopped(f"download of {self.label} stopped")

    # -- proving -----------------------------------------------------------------------------

    def _finish(self, file: _File) -> None:
        plan, check = file.plan, file.plan.check
        ordered = [file.step_md5s[s] for s in sorted(file.step_md5s)]
        local_md5: str | None = None
        if check.per_part:
            actual = check.multipart_digest(ordered)
        else:
            # One hash step over the whole file is its MD5; otherwise read it back once, in order.
            whole = ordered[0] if len(ordered) == 1 else md5_of_range(file.dest, 0, plan.size)
            actual = check.whole_file_digest(whole)
            if check.kind == "size":
                local_md5 = actual
        if check.kind != "size" and actual != check.expected:
            self.journal.forget(plan.entry.path)
            raise VerificationFailed(
                f"file {plan.entry.path!r} of {self.label} does not match its manifest digest "
                f"({actual} != {check.expected}); the source is corrupted or changed, refusing it"
            )
        st = os.fstat(file.fd)
        self.journal.record_file(plan.entry.path, st.st_size, st.st_mtime_ns, local_md5)
        self.results[plan.entry.path] = FileResult(plan.entry.path, st.st_size, st.st_mtime_ns, check, local_md5)
