"""The W&B writer process: a large plan's W&B runs, opened, fed and closed beside the evals.

The SDK's per-run work (``wandb.init``, the per-sample table, the results artifact, ``finish``)
is Python that holds the GIL: in the eval process it slowed every eval by about 25 ms a job.
A plan of many jobs hands it to a child process (``WriterClient``), where the same JobTracker runs
it on another core while the evals go on; a job's end is sent, not waited for, and the plan
collects the records at its end.

The child reads pickled messages from one pipe and answers on another; what it prints goes to
the user's stderr (our stdout is the command's result). It ignores SIGINT and SIGTERM: when the
plan is interrupted, it closes the runs whose ends it was sent and exits when the eval process
closes the pipe, so an interrupt loses no run. If the eval process dies outright, the runs it
never ended stay as its crash would have left them.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from eval_orchestrator import env
from eval_orchestrator.job import EvalMetadata
from eval_orchestrator.run_config import WandbWriter
from eval_orchestrator.tracking.core import JobEnd, LaunchResults

CLOSE_TIMEOUT_S = 600  # what closing may wait for the runs still finishing (finish_timeout is 120 s)
PROCESS_FROM_JOBS = 16  # wandb.writer "auto": a plan this large starts the writer process (about a second of CPU)


def uses_process(mode: WandbWriter, jobs: int, tracking_mode: str) -> bool:
    """Whether a plan's W&B runs go to a writer process (W&B disabled logs nothing worth moving)."""
    if tracking_mode == "disabled":
        return False
    return mode == "process" or (mode == "auto" and jobs >= PROCESS_FROM_JOBS)


@dataclass(frozen=True)
class Start:
    request: int
    eval_id: str
    meta: EvalMetadata
    config: dict[str, Any]


@dataclass(frozen=True)
class Row:
    eval_id: str
    row: dict[str, Any]


@dataclass(frozen=True)
class End:
    eval_id: str
    end: JobEnd


@dataclass(frozen=True)
class Collect:
    request: int
    log_dir: str


@dataclass(frozen=True)
class Reply:
    request: int
    error: str | None = None  # a Start whose run could not be created: why
    results: LaunchResults | None = None  # a Collect's answer


class WriterGone(RuntimeError):
    """The writer process exited before answering."""


class WriterClient:
    """The eval process's side: the Tracking calls, sent to the writer process."""

    def __init__(self) -> None:
        commands_read, commands_write = os.pipe()
        replies_read, replies_write = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        child_env = env.snapshot()  # the plan's environment: W&B's settings, the declared secrets' values
        # Its own wandb service: joining this process's (WANDB_SERVICE, set by wandb here once it ran),
        # the writer's exit would tear down the service this process's own runs use.
        child_env.pop("WANDB_SERVICE", None)
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, child_env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eval_orchestrator.tracking.writer", str(commands_read), str(replies_write)],
            pass_fds=(commands_read, replies_write),
            stdin=subprocess.DEVNULL,
            stdout=2,  # what it prints is diagnostics: our stdout is the command's result (--json)
            env=child_env,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._commands = Connection(commands_write, readable=False)
        self._replies = Connection(replies_read, writable=False)
        self._send_lock = threading.Lock()
        self._waiting: dict[int, Future[Reply]] = {}
        self._requests = itertools.count()
        self._reader = threading.Thread(target=self._read_replies, name="wandb-writer-replies", daemon=True)
        self._reader.start()

    def _read_replies(self) -> None:
        while True:
            try:
                reply: Reply = self._replies.recv()
            except (EOFError, OSError):
                break
            if (waiting := self._waiting.pop(reply.request, None)) is not None:
                waiting.set_result(reply)
        gone = WriterGone(f"the W&B writer process exited (code {self.process.wait()}) before it answered")
        for waiting in list(self._waiting.values()):
            waiting.set_exception(gone)
        self._waiting.clear()

    def _send(self, message: object) -> None:
        with self._send_lock:
            self._commands.send(message)

    def _ask(self, make: Any, *args: Any) -> Future[Reply]:
        request = next(self._requests)
        answer: Future[Reply] = Future()
        self._waiting[request] = answer
        if not self._reader.is_alive():
            self._waiting.pop(request)
            raise WriterGone(f"the W&B writer process exited (code {self.process.poll()})")
        self._send(make(request, *args))
        return answer

    def start(self, eval_id: str, meta: EvalMetadata, config: dict[str, Any]) -> Future[None]:
        started: Future[None] = Future()

        def done(answer: Future[Reply]) -> None:
            if (gone := answer.exception()) is not None:
                started.set_exception(gone)
            elif (why := answer.result().error) is not None:
                started.set_exception(RuntimeError(why))
            else:
                started.set_result(None)

        self._ask(Start, eval_id, meta, config).add_done_callback(done)
        return started

    def log(self, eval_id: str, row: dict[str, Any]) -> None:
        self._send(Row(eval_id, row))

    def finish(self, eval_id: str, end: JobEnd) -> None:
        self._send(End(eval_id, end))  # the writer closes the run; collect() waits for it

    def collect(self, log_dir: str) -> LaunchResults:
        reply = self._ask(Collect, log_dir).result()
        return reply.results or LaunchResults()

    def close(self, wait: bool = True) -> None:
        """No more runs: the writer closes those it was sent the end of, then exits. ``wait=False``
        once every run's record is collected: what is left is wandb's own teardown (about 0.4 s)."""
        with self._send_lock:
            self._commands.close()
        if not wait:
            threading.Thread(target=self.process.wait, name="wandb-writer-reaper", daemon=True).start()
            return
        try:
            self.process.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)


def serve(commands: Connection, replies: Connection) -> None:
    """The writer process's loop: each message handed to a JobTracker, in the order sent."""
    from eval_orchestrator.tracking.core import JobTracker

    tracker = JobTracker()
    reply_lock = threading.Lock()

    def answer(reply: Reply) -> None:
        with reply_lock:
            replies.send(reply)

    def when_started(request: int) -> Callable[[Future[None]], None]:
        def started(future: Future[None]) -> None:
            error = future.exception()
            answer(Reply(request, error=f"{type(error).__name__}: {error}" if error else None))

        return started

    while True:
        try:
            message = commands.recv()
        except EOFError:
            break
        if isinstance(message, Start):
            future = tracker.start(message.eval_id, message.meta, message.config)
            future.add_done_callback(when_started(message.request))
        elif isinstance(message, Row):
            tracker.log(message.eval_id, message.row)
        elif isinstance(message, End):
            tracker.finish(message.eval_id, message.end)
        elif isinstance(message, Collect):
            answer(Reply(message.request, results=tracker.collect(message.log_dir)))
    if tracker.open_runs:
        # The eval process died without ending these (an interrupt ends them first): they are left
        # as its crash would leave them, for the next attempt to resume, not closed as if done.
        os._exit(1)


def main(argv: list[str]) -> None:
    # The eval process decides when the plan stops; the runs it sent the end of are closed first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    commands = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    serve(commands, replies)


if __name__ == "__main__":
    # Run as -m, this file is __main__: the messages' classes are the package module's, so use those.
    from eval_orchestrator.tracking import writer

    writer.main(sys.argv[1:])
