"""The Inspect hook that drives W&B: one run per job, grouped by checkpoint version.

Inspect catches and only logs hook exceptions, so a tracker that breaks would stop logging
silently. Every failure here is recorded in ``TRACKER.errors`` and the orchestrator fails the
command when it is not empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

from inspect_ai.hooks import Hooks, RunEnd, SampleEnd, TaskEnd, TaskStart, hooks
from inspect_ai.log import EvalLog
from inspect_ai.scorer import value_to_float

from eval_orchestrator.audit import USAGE_FILE, job_dir
from eval_orchestrator.jsonl import append_jsonl
from eval_orchestrator.plan import METADATA_KEY, Job
from eval_orchestrator.publish import (
    lineage_spool,
    log_results_artifact,
    record_lineage,
    results_artifact_ref,
    write_summary,
)
from eval_orchestrator.redact import redact
from eval_orchestrator.refs import parse_ref
from eval_orchestrator.registry.wandb_registry import first_line, history_short_of, outage, sdk_settings

log = logging.getLogger(__name__)

HOOK_NAME = "eval_orchestrator_wandb"
_to_float = value_to_float()
_instance: WandbTracker | None = None


@dataclass
class TrackedJob:
    job: Job
    settings: dict[str, Any]
    run: Any
    inspect_run_id: str
    completed: int = 0
    errored: int = 0
    score_sums: dict[str, float] = field(default_factory=dict)
    tokens_by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)  # rows of the per-sample table
    model_used: bool = False  # use_artifact recorded the model version in W&B
    starting: Future[None] | None = None  # wandb.init, running in a thread
    pending: list[dict[str, Any]] = field(default_factory=list)  # rows logged before the run existed
    fallback: str | None = None  # why an online run went offline
    local_id: str | None = None  # the offline run's own id, when it cannot be the job's
    progress: dict[str, Any] | None = None  # the latest progress row, not logged yet
    progress_at: float = 0.0  # when a progress row was last logged (monotonic)
    end_log: EvalLog | None = None
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # this process's part of the run
    next_step: int = 0  # the W&B step the next logged row gets
    history_file: Path | None = None  # online: every logged row with its step, in case W&B misses some
    summary: dict[str, Any] = field(default_factory=dict)  # what the run's summary was given

    @property
    def tokens(self) -> int:
        return sum(totals["total"] for totals in self.tokens_by_model.values())


def versions() -> dict[str, str]:
    return {name: pkg_version(name) for name in ("eval-orchestrator", "inspect-ai", "wandb")}


def run_config(job: Job, data: TaskStart) -> dict[str, Any]:
    """Flat keys, so the W&B UI can group and filter on each."""
    spec = data.spec
    metric_names = sorted(
        {
            f"{s.name}/{m.name.rsplit('/', 1)[-1]}"
            for s in (spec.scorers or [])
            for m in (s.metrics or [])
            if hasattr(m, "name")
        }
    )
    v = versions()
    return {
        "checkpoint_name": job.collection,
        "checkpoint_version": job.version,
        "checkpoint_digest": job.digest,
        "checkpoint_aliases": job.aliases,
        "checkpoint_ref": job.ref,
        "checkpoint_requested_ref": job.requested_ref,
        "checkpoint_metadata": redact(job.registry_metadata),
        "task": job.task_name,
        "task_spec": job.task_spec,
        "task_args": redact(job.task_args),
        "language": job.language,
        "fewshot": job.fewshot,
        "num_samples": job.num_samples,
        "metric": [s.name for s in (spec.scorers or [])],
        "metric_names": metric_names,
        "job_key": job.key,
        "model": spec.model,
        "model_args": redact(spec.model_args),
        "epochs": spec.config.epochs,
        "limit": spec.config.limit,
        "inspect_eval_id": data.eval_id,
        "eval_orchestrator_version": v["eval-orchestrator"],
        "inspect_ai_version": v["inspect-ai"],
        "wandb_version": v["wandb"],
    }


PROGRESS_INTERVAL_S = 1.0
EXCERPT_CHARS = 1000  # per cell of the per-sample table: enough to read, not a copy of the log


def excerpt(value: Any) -> str:
    if isinstance(value, list):
        value = "\n".join(getattr(m, "text", str(m)) for m in value)
    text = "" if value is None else str(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def sample_row(sample: Any, scores: dict[str, Any]) -> dict[str, Any]:
    """One row of the per-sample W&B table."""
    return {
        "sample_id": str(sample.id),
        "epoch": sample.epoch,
        "input": excerpt(sample.input),
        "output": excerpt(sample.output.completion if sample.output else ""),
        "target": excerpt(sample.target),
        **{k.removeprefix("sample/"): v for k, v in scores.items() if k.startswith("sample/")},
        "tokens": sum(u.total_tokens for u in (sample.model_usage or {}).values()),
        "error": excerpt(sample.error.message) if sample.error else "",
    }


def samples_table(rows: list[dict[str, Any]]) -> Any:
    import wandb

    fixed = ["sample_id", "epoch", "input", "output", "target"]
    scores = sorted({k for row in rows for k in row} - {*fixed, "tokens", "error"})
    columns: list[str | int] = [*fixed, *scores, "tokens", "error"]
    return wandb.Table(columns=columns, data=[[row.get(str(c)) for c in columns] for row in rows])


def _wandb_settings(ours: dict[str, Any]) -> Any:
    return sdk_settings(
        init_timeout=float(ours.get("init_timeout") or 30),
        # Past this, finish() gives up on uploading: the data stays on disk for `sync`.
        finish_timeout=float(ours.get("finish_timeout") or 120),
        finish_timeout_raises=True,
    )


def run_id(job_key: str) -> str:
    """The W&B run id of a job: derived from its key, so every attempt of the job logs to one run."""
    return hashlib.sha256(job_key.encode()).hexdigest()[:20]


def final_metrics(eval_log: EvalLog) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if eval_log.results:
        for score in eval_log.results.scores:
            for metric in score.metrics.values():
                metrics[f"{score.name}/{metric.name}"] = metric.value
    return metrics


@hooks(name=HOOK_NAME, description="eval-orchestrator: one W&B run per checkpoint version x task")
class WandbTracker(Hooks):
    def __init__(self) -> None:
        global _instance
        _instance = self  # Inspect creates exactly one, at import; tracker() hands it out
        self.jobs: dict[str, TrackedJob] = {}
        self._starter = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wandb-init")
        self.errors: list[str] = []
        self.published: list[dict[str, Any]] = []

    def _fail(self, what: str, job: Job | None) -> None:
        who = f" for {job.group}/{job.task_name}" if job else ""
        message = f"W&B tracking failed{who} while {what}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}"
        log.error(message)
        self.errors.append(message)

    async def on_task_start(self, data: TaskStart) -> None:
        ours = (data.spec.metadata or {}).get(METADATA_KEY)
        if not ours:
            return  # not one of our evals
        job = Job.from_metadata(ours["job"])
        settings = ours["wandb"]
        tracked = TrackedJob(job, settings, None, data.run_id)
        self.jobs[data.eval_id] = tracked
        config = {**redact(settings.get("config") or {}), **run_config(job, data)}
        # wandb.init takes about half a second: in a thread, so the samples start meanwhile
        # (their rows wait in `pending`). Online, we wait for it: lineage comes before the eval.
        tracked.starting = self._starter.submit(self._start_run, tracked, config)
        if settings["mode"] == "online":
            with contextlib.suppress(Exception):  # a failure is reported when the job finishes
                await asyncio.wrap_future(tracked.starting)

    def _start_run(self, tracked: TrackedJob, config: dict[str, Any]) -> None:
        import wandb

        job, settings = tracked.job, tracked.settings
        if settings["mode"] == "online":
            try:
                if why := outage():
                    tracked.fallback = f"W&B unreachable ({why}); logging offline"
                else:
                    tracked.run = self._init(wandb, tracked, config, "online")
            except (wandb.errors.AuthenticationError, wandb.errors.UsageError):
                raise  # a bad key or setting is the user's to fix, not an outage
            except Exception as exc:
                # W&B failed while creating the run. The SDK may still hold the job's run id in this
                # process, so log offline under a local id; `sync` uploads it into the job's own run
                # (wandb sync --id) and logs the results artifact there.
                tracked.fallback = f"W&B unreachable ({type(exc).__name__}: {first_line(exc)}); logging offline"
                tracked.local_id = f"{run_id(job.key)}x{os.getpid():x}"
            if tracked.fallback:
                # The eval goes on, logged offline; `eval-orchestrator sync` uploads it later.
                log.warning("%s/%s: %s", job.group, job.task_name, tracked.fallback)
                tracked.settings = {**settings, "mode": "offline"}
        if tracked.run is None:
            tracked.run = self._init(wandb, tracked, config, tracked.settings["mode"], tracked.local_id)
        if tracked.settings["mode"] != "online":
            return
        # If W&B goes away mid-run, `sync` re-logs the rows it lacks from this file, at their steps
        # (a resumed run continues the step count).
        tracked.next_step = tracked.run.starting_step
        tracked.history_file = _pending_file(tracked, "history.jsonl")
        if parse_ref(job.ref).backend == "wandb":
            # Lineage: it exists even if the eval then crashes.
            tracked.run.use_artifact(job.ref)
            tracked.model_used = True

    @staticmethod
    def _init(wandb: Any, tracked: TrackedJob, config: dict[str, Any], mode: str, local_id: str | None = None) -> Any:
        job, settings = tracked.job, tracked.settings
        tags = [job.collection, job.version, job.task_name, *job.aliases, *settings.get("tags", [])]
        return wandb.init(
            # One run per job, the same on every attempt: a resumed or re-run plan continues it.
            id=local_id or run_id(job.key),
            resume="allow" if mode == "online" else None,
            project=settings.get("project"),
            entity=settings.get("entity"),
            mode=mode,
            dir=settings.get("dir"),
            group=job.group,
            job_type=job.task_name,
            name=f"{job.group}/{job.task_name}" + (f"-{job.args_suffix}" if job.args_suffix else ""),
            tags=sorted(set(tags))[:64],
            config=config,
            reinit="create_new",
            settings=_wandb_settings(settings),
        )

    def _log(self, tracked: TrackedJob, row: dict[str, Any] | None = None) -> None:
        """Log ``row`` once the run exists (rows logged before then wait, in order)."""
        if row is not None:
            tracked.pending.append(row)
        if tracked.starting is None or not tracked.starting.done() or tracked.starting.exception():
            return
        while tracked.pending:
            row = tracked.pending.pop(0)
            tracked.run.log(row)
            if tracked.history_file is not None:
                append_jsonl(tracked.history_file, {"step": tracked.next_step, "row": row})
            tracked.next_step += 1

    async def on_sample_end(self, data: SampleEnd) -> None:
        tracked = self.jobs.get(data.eval_id)
        if tracked is None:
            return
        try:
            sample = data.sample
            scores: dict[str, Any] = {}
            progress: dict[str, Any] = {}
            if sample.error is not None:
                tracked.errored += 1
            else:
                tracked.completed += 1
            for name, score in (sample.scores or {}).items():
                try:
                    value = _to_float(score.value)
                except Exception:
                    continue  # non-numeric score (e.g. a dict): final metrics still cover it
                tracked.score_sums[name] = tracked.score_sums.get(name, 0.0) + value
                scores[f"sample/{name}"] = value
            for name, total in tracked.score_sums.items():
                progress[f"running/{name}_mean"] = total / max(tracked.completed, 1)
            for model, usage in (sample.model_usage or {}).items():
                totals = tracked.tokens_by_model.setdefault(model, {"input": 0, "output": 0, "total": 0})
                totals["input"] += usage.input_tokens
                totals["output"] += usage.output_tokens
                totals["total"] += usage.total_tokens
            tracked.samples.append(sample_row(sample, scores))
            progress["samples_completed"] = tracked.completed
            progress["samples_errored"] = tracked.errored
            progress["tokens_total"] = tracked.tokens
            tracked.progress = progress
            # Each sample is a row of the per-sample table; the history gets a progress row at
            # most every PROGRESS_INTERVAL_S (a W&B row per sample costs more than the sample).
            now = time.monotonic()
            if now - tracked.progress_at >= PROGRESS_INTERVAL_S:
                tracked.progress_at = now
                self._log(tracked, progress)
                tracked.progress = None
        except Exception:
            self._fail("logging a sample", tracked.job)

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
            eval_log = headers.get(eval_id) or tracked.end_log
            try:
                assert tracked.starting is not None
                # Blocking on purpose: an await here is cancelled with a cancelled eval, which
                # would leave the run open (and "in use" for the resumed attempt).
                tracked.starting.result(timeout=300)
            except Exception:
                self._fail("starting the run", tracked.job)
                continue
            try:
                self._log(tracked, tracked.progress)  # the last progress, and rows from before the run existed
                self._finish(tracked, eval_log, data.exception)
            except Exception:
                self._fail("finishing the run", tracked.job)
                with contextlib.suppress(Exception):  # already reported; do not leave the run open
                    tracked.run.finish(exit_code=1)

    def _upload_to_hub(self, tracked: TrackedJob, log_path: Path, summary: Path, usage: Path) -> str | None:
        repo = tracked.settings.get("hf_upload_repo")
        if not repo:
            return None
        from eval_orchestrator.hub import upload_results

        try:
            files = {"summary.json": summary, "usage.jsonl": usage, f"logs/{log_path.name}": log_path}
            url = upload_results(repo, tracked.settings.get("hf_upload_dir") or "eval-results", tracked.job, files)
        except Exception:
            self._fail(f"uploading the results to the Hugging Face Hub repo {repo}", tracked.job)
            return None
        self._summarize(tracked, {"hf_results_url": url})
        tracked.run.notes = f"Results on the Hugging Face Hub: {url}"
        return url

    def _log_results(self, tracked: TrackedJob, results: dict[str, Any]) -> None:
        ref = log_results_artifact(tracked.run, tracked.job, results, tracked.settings.get("link_results"))
        self._summarize(tracked, {"results_artifact": ref})

    @staticmethod
    def _summarize(tracked: TrackedJob, values: dict[str, Any]) -> None:
        """Set run summary keys, and remember them for `sync` should W&B not get them."""
        for key, value in values.items():
            tracked.run.summary[key] = value
        tracked.summary.update(values)

    @staticmethod
    def _rows_missing(tracked: TrackedJob) -> str | None:
        """Why W&B lacks history rows this attempt logged, or None when it holds them all or cannot say."""
        run, logged = tracked.run, tracked.next_step
        if tracked.history_file is None or logged <= run.starting_step:
            return None
        held = history_short_of(run.entity, run.project, run.id, logged)
        if held is None:
            return None
        return f"W&B holds {held} of the run's {logged} history rows (its uploads gave up during an outage)"

    @staticmethod
    def _spool_table(tracked: TrackedJob) -> str:
        """The per-sample rows, on disk for `sync` to log as the job's table."""
        path = _pending_file(tracked, "samples.json")
        path.write_text(json.dumps(tracked.samples, default=str))
        return str(path)

    def _finish(self, tracked: TrackedJob, eval_log: EvalLog | None, exception: BaseException | None) -> None:
        job, run = tracked.job, tracked.run
        status = eval_log.status if eval_log is not None else "error"
        metrics = final_metrics(eval_log) if eval_log is not None else {}
        log_path = Path(eval_log.location) if eval_log is not None and eval_log.location else None
        results_of_log = eval_log.results if eval_log is not None else None
        summary: dict[str, Any] = {
            "status": status,
            "metrics": metrics,
            "samples_total": results_of_log.total_samples if results_of_log else 0,
            # From the log: a resumed eval's reused samples never reach this process's hooks.
            "samples_completed": results_of_log.completed_samples if results_of_log else tracked.completed,
            "samples_errored": tracked.errored,
            "tokens_total": tracked.tokens,
            "inspect_log": str(log_path) if log_path else None,
            "error": (eval_log.error.message if eval_log is not None and eval_log.error else None)
            or (repr(exception) if exception else None),
        }
        self._summarize(tracked, {**metrics, **{k: v for k, v in summary.items() if k != "metrics"}})
        for model, totals in tracked.tokens_by_model.items():
            self._summarize(tracked, {f"tokens/{model}/{kind}": count for kind, count in totals.items()})
        results: dict[str, Any] | None = None  # what the results artifact is made of
        if status == "success" and log_path is not None:
            own_dir = job_dir(log_path.parent, job.key)
            summary_file = write_summary(job, own_dir, summary)
            usage_file = own_dir / USAGE_FILE
            hub_url = self._upload_to_hub(tracked, log_path, summary_file, usage_file)
            results = {
                "log": str(log_path),
                "summary": str(summary_file),
                "usage": str(usage_file),
                "metrics": metrics,
                "hub_url": hub_url,
            }
        online = tracked.settings["mode"] == "online"
        # Spooled for `sync` rather than logged here: results of a run logged offline under a
        # local id (here they would belong to that id), and in an online run, table and results
        # while W&B is unreachable (the SDK would wait on it, then fail).
        spool_results, spool_table = bool(tracked.local_id), False
        if online and (why := outage()):
            spool_results = spool_table = True
        else:
            try:
                if tracked.samples:
                    run.log({"samples": samples_table(tracked.samples)})
                if results is not None and not spool_results:
                    self._log_results(tracked, results)
            except Exception:
                if not online or not (why := outage()):
                    raise
                spool_results = spool_table = True
        if spool_table:
            tracked.fallback = f"W&B unreachable at the end of the run ({why})"
        exit_code = 0 if status == "success" else 1
        upload_pending = False
        try:
            run.finish(exit_code=exit_code)
        except TimeoutError:
            # W&B went away mid-run: the run's data is complete on disk, for `sync` to upload.
            # What went to W&B as requests rather than records (artifacts, the table) is not in the
            # run's files, so it is spooled too; W&B deduplicates it by digest if it did arrive.
            upload_pending = spool_results = spool_table = True
        else:
            if online and (missing := self._rows_missing(tracked)):
                # The SDK's uploads gave up during an outage that ended before the run did, and
                # finish() does not say so: everything is spooled as after a timeout.
                tracked.fallback = missing
                upload_pending = spool_results = spool_table = True
        # Online, the rows W&B may lack are re-logged by `sync` from our own record of them; a
        # `wandb sync` of this run's files would resend the rows W&B already has, as new rows.
        history_pending = upload_pending and tracked.history_file is not None
        if tracked.history_file is not None and not history_pending:
            tracked.history_file.unlink(missing_ok=True)
        lineage = {
            "job_key": job.key,
            "attempt": tracked.attempt,
            "run_id": run_id(job.key),
            "local_run_id": run.id,
            "run_dir": str(Path(run.dir).parent),
            "mode": tracked.settings["mode"],
            "project": run.project,
            "entity": tracked.settings.get("entity"),
            "model_ref": job.ref,
            "model_digest": job.digest,
            "model_used_online": tracked.model_used,
            "results_artifact": results_artifact_ref(job) if results and not spool_results else None,
            "status": status,
            "upload_pending": upload_pending,
            "results_pending": results if spool_results else None,
            "table_pending": self._spool_table(tracked) if spool_table and tracked.samples else None,
            "history_pending": str(tracked.history_file) if history_pending else None,
            "summary_pending": tracked.summary if history_pending else None,
            "job": job.to_metadata() if spool_results or spool_table else None,
            "link_results": tracked.settings.get("link_results"),
            "fallback": tracked.fallback,
        }
        record_lineage(lineage_spool(tracked.settings["dir"]), lineage)
        self.published.append(lineage)


def _pending_file(tracked: TrackedJob, what: str) -> Path:
    """Where one attempt of a job keeps what `sync` may have to send W&B for it (folder made)."""
    pending = lineage_spool(tracked.settings["dir"]) / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    return pending / f"{run_id(tracked.job.key)}-{tracked.attempt}-{what}"


def required_hook_names() -> list[str]:
    """The names Inspect registered our hooks under (what INSPECT_REQUIRED_HOOKS must say)."""
    from inspect_ai._util.registry import registry_info

    from eval_orchestrator.audit import usage_audit

    return [registry_info(tracker()).name, registry_info(usage_audit()).name]


def tracker() -> WandbTracker:
    """The single instance Inspect created for this process when this module was imported."""
    if _instance is None:
        raise RuntimeError("the eval-orchestrator W&B hook is not registered")
    return _instance
