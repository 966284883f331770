"""The W&B side of the tracker: each job's run opened, fed rows and closed, in whichever process
holds it (the eval process, or the W&B writer process of a large plan; see ``tracking.writer``).

It knows nothing of Inspect's hooks: the hook (``tracking.hook``) turns Inspect's events into the
calls below, with everything they need already in plain, picklable values.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from eval_orchestrator.job import EvalMetadata, Job
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.spool import JobSummary, LineageRecord
from eval_orchestrator.tracking.finish import finish_job
from eval_orchestrator.tracking.progress import JobProgress
from eval_orchestrator.tracking.wandb_run import JobRun

log = logging.getLogger(__name__)


@dataclass
class LaunchResults:
    """What the tracker did for one eval_set (one checkpoint version): its records and failures."""

    records: list[LineageRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: LaunchResults) -> LaunchResults:
        return LaunchResults([*self.records, *other.records], [*self.errors, *other.errors])


@dataclass(frozen=True)
class JobEnd:
    """What the eval process knows when a job's eval has ended, for whoever closes its run."""

    progress: JobProgress  # the counters, the last progress row and the per-sample table rows
    summary: JobSummary  # how it ended (from Inspect's log header)


class Tracking(Protocol):
    """A job's W&B run from start to finish: ``JobTracker`` here, or ``WriterClient`` in a process of its own."""

    def start(self, eval_id: str, meta: EvalMetadata, config: dict[str, Any]) -> Future[None]: ...

    def log(self, eval_id: str, row: dict[str, Any]) -> None: ...

    def finish(self, eval_id: str, end: JobEnd) -> None: ...

    def collect(self, log_dir: str) -> LaunchResults: ...


def failure(job: Job, what: str) -> str:
    """The one-line report of a tracking failure, from the exception being handled."""
    reason = traceback.format_exc(limit=1).strip().splitlines()[-1]
    return f"W&B tracking failed for {job.label} while {what}: {reason}"


class JobTracker:
    """Open runs by Inspect eval id; finished jobs' records and failures by eval_set log dir."""

    def __init__(self) -> None:
        self.open_runs: dict[str, tuple[EvalMetadata, JobRun]] = {}
        self._starter = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wandb-init")
        self._results: dict[str, LaunchResults] = {}

    def fail(self, meta: EvalMetadata, what: str) -> None:
        """Report the exception being handled as a failure of ``meta``'s job, kept with its log dir's results."""
        message = failure(meta.job, what)
        log.error(message)
        self._results.setdefault(meta.log_dir, LaunchResults()).errors.append(message)

    def start(self, eval_id: str, meta: EvalMetadata, config: dict[str, Any]) -> Future[None]:
        """Create the job's run; wandb.init takes a while, so in a thread (rows logged meanwhile wait)."""
        job_run = JobRun(meta.job, meta.tracking, scrub=Scrubber.of(meta.tracking.secrets))
        self.open_runs[eval_id] = (meta, job_run)
        job_run.starting = self._starter.submit(job_run.start, config)
        return job_run.starting

    def log(self, eval_id: str, row: dict[str, Any]) -> None:
        if (opened := self.open_runs.get(eval_id)) is None:
            return
        meta, job_run = opened
        try:
            job_run.log(row)
        except Exception:
            self.fail(meta, "logging a sample")

    def finish(self, eval_id: str, end: JobEnd) -> None:
        """Close the job's run and keep its lineage record (blocking: the run must not stay open)."""
        if (opened := self.open_runs.pop(eval_id, None)) is None:
            return
        meta, job_run = opened
        try:
            assert job_run.starting is not None
            job_run.starting.result(timeout=300)
        except Exception:
            self.fail(meta, "starting the run")
            return
        try:
            job_run.log(end.progress.take())  # the last progress, and rows from before the run existed
            record = finish_job(job_run, end.progress, end.summary, lambda what: self.fail(meta, what))
            self._results.setdefault(meta.log_dir, LaunchResults()).records.append(record)
        except Exception:
            self.fail(meta, "finishing the run")
            with contextlib.suppress(Exception):  # already reported; do not leave the run open
                job_run.run.finish(exit_code=1)

    def collect(self, log_dir: str) -> LaunchResults:
        """The records and failures of the eval_set that logged to ``log_dir`` (handed out once)."""
        return self._results.pop(log_dir, LaunchResults())
