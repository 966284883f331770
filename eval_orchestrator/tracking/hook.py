"""The Inspect hook that drives W&B: one run per job, grouped by checkpoint version.

Thin on purpose: it reads our metadata off each task, counts samples into a JobProgress, and
hands each job's rows and end to the W&B side (``tracking.core``): a JobTracker in this process,
or, for a large plan, the W&B writer process (``tracking.writer``) that runs the SDK beside the
evals. Importing this module registers the hook with Inspect (``@hooks``), so only the Inspect
entry point and the launcher import it; pure helpers live in ``tracking.rows``.

Inspect catches and only logs hook exceptions, so a tracker that breaks would stop logging
silently. Every failure is recorded in the results of the eval_set it happened in, which the
orchestrator collects by log dir and fails the command on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from inspect_ai.hooks import Hooks, RunEnd, SampleEnd, TaskEnd, TaskStart, hooks
from inspect_ai.log import EvalLog

from eval_orchestrator import env, inspect_api
from eval_orchestrator.job import EvalMetadata
from eval_orchestrator.redact import redact
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.tracking import sinks
from eval_orchestrator.tracking.core import JobEnd, JobTracker, LaunchResults, Tracking
from eval_orchestrator.tracking.finish import job_summary
from eval_orchestrator.tracking.progress import JobProgress
from eval_orchestrator.tracking.rows import model_labels, run_config

HOOK_NAME = "eval_orchestrator_wandb"
_instance: WandbTracker | None = None


@dataclass
class TrackedJob:
    meta: EvalMetadata
    inspect_run_id: str
    progress: JobProgress = field(default_factory=JobProgress)
    end_log: EvalLog | None = None  # the header from on_task_end, when it fired
    planned: int = 0  # samples x epochs this eval will score (for progress reports)


# Short descriptions: Inspect prints "  <package>/<name>: <description>" in its banner, within 80 columns.
@hooks(name=HOOK_NAME, description="a W&B run per version x task")
class WandbTracker(Hooks):
    def __init__(self) -> None:
        global _instance
        _instance = self  # Inspect creates exactly one, at import; tracker() hands it out
        self.jobs: dict[str, TrackedJob] = {}  # by Inspect eval id
        self.local = JobTracker()
        self.runs: Tracking = self.local  # where the W&B runs are: here, or the writer process

    def enabled(self) -> bool:
        return HOOK_NAME in {name.rsplit("/", 1)[-1] for name in env.required_hooks()}

    @contextlib.contextmanager
    def writing_to(self, runs: Tracking) -> Iterator[None]:
        """Hand the W&B runs of the evals started meanwhile to ``runs`` (the writer process)."""
        self.runs = runs
        try:
            yield
        finally:
            self.runs = self.local

    def collect(self, log_dir: str) -> LaunchResults:
        """The records and failures of the eval_set that logged to ``log_dir`` (handed out once)."""
        ours = self.local.collect(log_dir)  # this side's failures (and the runs, when they are here)
        if self.runs is self.local:
            return ours
        try:
            return self.runs.collect(log_dir).merge(ours)
        except Exception as exc:  # the writer process is gone: its runs' records with it
            return ours.merge(LaunchResults(errors=[f"W&B tracking failed for {log_dir}: {exc}"]))

    async def on_task_start(self, data: TaskStart) -> None:
        meta = EvalMetadata.from_inspect(data.spec.metadata)
        if meta is None:
            return  # not one of our evals
        tracked = TrackedJob(meta, data.run_id)
        samples, limit = data.spec.dataset.samples or 0, data.spec.config.limit
        if isinstance(limit, int):
            samples = min(samples, limit)
        tracked.planned = samples * (data.spec.config.epochs or 1)
        tracked.progress.model_labels = model_labels(data.spec)
        self.jobs[data.eval_id] = tracked
        scrub = Scrubber.of(meta.tracking.secrets)
        config = scrub.tree({**redact(meta.tracking.config), **run_config(meta.job, data.spec, data.eval_id)})
        try:
            starting = self.runs.start(data.eval_id, meta, config)
        except Exception:
            self.local.fail(tracked.meta, "starting the run")
            return
        # wandb.init takes about half a second, so the samples start meanwhile (their rows wait).
        # Online, we wait for it: lineage comes before the eval.
        if meta.tracking.mode == "online":
            with contextlib.suppress(Exception):  # a failure is reported when the job finishes
                await asyncio.wrap_future(starting)

    async def on_sample_end(self, data: SampleEnd) -> None:
        tracked = self.jobs.get(data.eval_id)
        if tracked is None:
            return
        try:
            tracked.progress.add(data.sample)
            if (row := tracked.progress.due()) is not None:
                self.runs.log(data.eval_id, row)
            done = tracked.progress.completed + tracked.progress.errored
            sinks.report(tracked.meta.job.label, tracked.meta.job.key, done, tracked.planned)
        except Exception:
            self.local.fail(tracked.meta, "logging a sample")

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
            summary = job_summary(headers.get(eval_id) or tracked.end_log, tracked.progress, data.exception)
            try:
                # Here, blocking on purpose: an await is cancelled with a cancelled eval, which would
                # leave the run open (and "in use" for the resumed attempt). The writer process
                # closes it on its own time.
                self.runs.finish(eval_id, JobEnd(tracked.progress, summary))
            except Exception:
                self.local.fail(tracked.meta, "finishing the run")


def required_hook_names() -> list[str]:
    """The names Inspect registered our hooks under (what INSPECT_REQUIRED_HOOKS must say)."""
    from eval_orchestrator.audit import usage_audit

    return [inspect_api.hook_name(tracker()), inspect_api.hook_name(usage_audit())]


def tracker() -> WandbTracker:
    """The single instance Inspect created for this process when this module was imported."""
    if _instance is None:
        raise RuntimeError("the eval-orchestrator W&B hook is not registered")
    return _instance
