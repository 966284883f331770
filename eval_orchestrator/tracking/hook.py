"""The Inspect hook that drives W&B: one run per job, grouped by checkpoint version.

Thin on purpose: it reads our metadata off each task, counts samples into a JobProgress, and
hands each job's W&B run (JobRun) its rows; ``finish_job`` closes it. Importing this module
registers the hook with Inspect (``@hooks``), so only the Inspect entry point and the launcher
import it; pure helpers live in ``tracking.rows``.

Inspect catches and only logs hook exceptions, so a tracker that breaks would stop logging
silently. Every failure is recorded in the results of the eval_set it happened in, which the
orchestrator collects by log dir and fails the command on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from inspect_ai.hooks import Hooks, RunEnd, SampleEnd, TaskEnd, TaskStart, hooks
from inspect_ai.log import EvalLog

from eval_orchestrator import env, inspect_api
from eval_orchestrator.job import EvalMetadata, Job
from eval_orchestrator.redact import redact
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.spool import LineageRecord
from eval_orchestrator.tracking import sinks
from eval_orchestrator.tracking.finish import finish_job
from eval_orchestrator.tracking.progress import JobProgress
from eval_orchestrator.tracking.rows import model_labels, run_config
from eval_orchestrator.tracking.wandb_run import JobRun

log = logging.getLogger(__name__)

HOOK_NAME = "eval_orchestrator_wandb"
_instance: WandbTracker | None = None


@dataclass
class LaunchResults:
    """What the tracker did for one eval_set (one checkpoint version): its records and failures."""

    records: list[LineageRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class TrackedJob:
    meta: EvalMetadata
    inspect_run_id: str
    run: JobRun
    progress: JobProgress = field(default_factory=JobProgress)
    end_log: EvalLog | None = None  # the header from on_task_end, when it fired
    planned: int = 0  # samples x epochs this eval will score (for progress reports)

    @property
    def job(self) -> Job:
        return self.meta.job


# Short descriptions: Inspect prints "  <package>/<name>: <description>" in its banner, within 80 columns.
@hooks(name=HOOK_NAME, description="a W&B run per version x task")
class WandbTracker(Hooks):
    def __init__(self) -> None:
        global _instance
        _instance = self  # Inspect creates exactly one, at import; tracker() hands it out
        self.jobs: dict[str, TrackedJob] = {}  # by Inspect eval id
        self._starter = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wandb-init")
        self._results: dict[str, LaunchResults] = {}  # by the eval_set log dir

    def enabled(self) -> bool:
        return HOOK_NAME in {name.rsplit("/", 1)[-1] for name in env.required_hooks()}

    def collect(self, log_dir: str) -> LaunchResults:
        """The records and failures of the eval_set that logged to ``log_dir`` (handed out once)."""
        return self._results.pop(log_dir, LaunchResults())

    def _results_of(self, tracked: TrackedJob) -> LaunchResults:
        return self._results.setdefault(tracked.meta.log_dir, LaunchResults())

    def _fail(self, tracked: TrackedJob, what: str) -> None:
        reason = traceback.format_exc(limit=1).strip().splitlines()[-1]
        message = f"W&B tracking failed for {tracked.job.label} while {what}: {reason}"
        log.error(message)
        self._results_of(tracked).errors.append(message)

    async def on_task_start(self, data: TaskStart) -> None:
        meta = EvalMetadata.from_inspect(data.spec.metadata)
        if meta is None:
            return  # not one of our evals
        scrub = Scrubber.of(meta.tracking.secrets)
        tracked = TrackedJob(meta, data.run_id, JobRun(meta.job, meta.tracking, scrub=scrub))
        samples, limit = data.spec.dataset.samples or 0, data.spec.config.limit
        if isinstance(limit, int):
            samples = min(samples, limit)
        tracked.planned = samples * (data.spec.config.epochs or 1)
        tracked.progress.model_labels = model_labels(data.spec)
        self.jobs[data.eval_id] = tracked
        config = scrub.tree({**redact(meta.tracking.config), **run_config(meta.job, data.spec, data.eval_id)})
        # wandb.init takes about half a second: in a thread, so the samples start meanwhile
        # (their rows wait in `pending`). Online, we wait for it: lineage comes before the eval.
        tracked.run.starting = self._starter.submit(tracked.run.start, config)
        if tracked.run.online:
            with contextlib.suppress(Exception):  # a failure is reported when the job finishes
                await asyncio.wrap_future(tracked.run.starting)

    async def on_sample_end(self, data: SampleEnd) -> None:
        tracked = self.jobs.get(data.eval_id)
        if tracked is None:
            return
        try:
            tracked.progress.add(data.sample)
            if (row := tracked.progress.due()) is not None:
                tracked.run.log(row)
            done = tracked.progress.completed + tracked.progress.errored
            sinks.report(tracked.job.label, tracked.job.key, done, tracked.planned)
        except Exception:
            self._fail(tracked, "logging a sample")

    async def on_task_end(self, data: TaskEnd) -> None:
        tracked = self.jobs.get(data.eval_id)
        if tracked is not None:
            tracked.end_log = data.log

    async def on_run_end(self, data: RunEnd) -> None:
        # on_task_end does not fire for a task that errored or was cancelled; this does.
        headers = {entry.eval.eval_id: entry for entry in (data.logs or [])}
        for eval_id, tracked in list(self.jobs.items()):
            if tracked.inspect_run_id != data.run_id:
                continue
            del self.jobs[eval_id]
            self._finish(tracked, headers.get(eval_id) or tracked.end_log, data.exception)

    def _finish(self, tracked: TrackedJob, eval_log: EvalLog | None, exception: BaseException | None) -> None:
        job_run = tracked.run
        try:
            assert job_run.starting is not None
            # Blocking on purpose: an await here is cancelled with a cancelled eval, which would
            # leave the run open (and "in use" for the resumed attempt).
            job_run.starting.result(timeout=300)
        except Exception:
            self._fail(tracked, "starting the run")
            return
        try:
            job_run.log(tracked.progress.take())  # the last progress, and rows from before the run existed
            record = finish_job(job_run, tracked.progress, eval_log, exception, lambda what: self._fail(tracked, what))
            self._results_of(tracked).records.append(record)
        except Exception:
            self._fail(tracked, "finishing the run")
            with contextlib.suppress(Exception):  # already reported; do not leave the run open
                job_run.run.finish(exit_code=1)


def required_hook_names() -> list[str]:
    """The names Inspect registered our hooks under (what INSPECT_REQUIRED_HOOKS must say)."""
    from eval_orchestrator.audit import usage_audit

    return [inspect_api.hook_name(tracker()), inspect_api.hook_name(usage_audit())]


def tracker() -> WandbTracker:
    """The single instance Inspect created for this process when this module was imported."""
    if _instance is None:
        raise RuntimeError("the eval-orchestrator W&B hook is not registered")
    return _instance
