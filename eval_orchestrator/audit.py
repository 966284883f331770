"""The second built-in hook: a usage and audit log of every model call, one JSONL file per job.

Written beside the Inspect logs (``<version log dir>/eval-orchestrator/<job key>/usage.jsonl``)
and added to the job's results artifact. Each line is one event: a finished model call with its
usage, duration and the HTTP retries it took, or a retry with its error. Appends are line-sized
writes to a file opened once per job, so the hook costs microseconds per call.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from inspect_ai.hooks import Hooks, ModelRetry, ModelUsageData, RunEnd, TaskStart, hooks

from eval_orchestrator import attempts, env
from eval_orchestrator.job import EvalMetadata
from eval_orchestrator.paths import is_remote
from eval_orchestrator.spool import Spool

log = logging.getLogger(__name__)

AUDIT_HOOK_NAME = "eval_orchestrator_audit"
USAGE_FILE = "usage.jsonl"
_instance: UsageAudit | None = None


def job_dir(log_dir: str | Path, job_key: str, wandb_dir: str) -> Path:
    """Where a job's own files (summary, usage log) sit: beside the Inspect logs of its version, or, when
    those are at a URL (s3://...), under the W&B dir."""
    if is_remote(log_dir):
        return Spool(wandb_dir).job_files(job_key)
    return Path(log_dir) / "eval-orchestrator" / job_key


@dataclass
class _Open:
    job_key: str
    task: str
    path: Path
    fh: IO[str]
    inspect_run_id: str
    log_dir: str


@hooks(name=AUDIT_HOOK_NAME, description="usage log of every model call")
class UsageAudit(Hooks):
    def __init__(self) -> None:
        global _instance
        _instance = self  # Inspect creates exactly one, at import
        self.open: dict[str, _Open] = {}  # Inspect eval id -> the job's open log

    def enabled(self) -> bool:
        return AUDIT_HOOK_NAME in {name.rsplit("/", 1)[-1] for name in env.required_hooks()}

    async def on_task_start(self, data: TaskStart) -> None:
        meta = EvalMetadata.from_inspect(data.spec.metadata)
        if meta is None:
            return  # not one of our evals
        key = meta.job.key
        if not is_remote(meta.log_dir):  # (a remote log dir's dead attempts are Inspect's to keep)
            attempts.mark(meta.log_dir, data.run_id)  # removed when the run ends; left only by a dead process
        path = job_dir(meta.log_dir, key, meta.tracking.dir) / USAGE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a", buffering=1)  # line-buffered: a crash loses at most the line in flight
        self.open[data.eval_id] = _Open(key, meta.job.task_name, path, fh, data.run_id, meta.log_dir)

    def _write(self, eval_id: str | None, event: dict[str, Any]) -> None:
        target = self.open.get(eval_id or "")
        if target is None:
            return
        event = {"time": time.time(), "job_key": target.job_key, "task": target.task, **event}
        target.fh.write(json.dumps(event, separators=(",", ":")) + "\n")

    async def on_model_usage(self, data: ModelUsageData) -> None:
        usage = data.usage
        self._write(
            data.eval_id,
            {
                "event": "model_call",
                "model": data.model_name,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "total_tokens": usage.total_tokens,
                "reasoning_tokens": usage.reasoning_tokens,
                "cache_read_tokens": usage.input_tokens_cache_read,
                "cache_write_tokens": usage.input_tokens_cache_write,
                "duration_s": round(data.call_duration, 6),
                "retries": data.retries,
            },
        )

    async def on_model_retry(self, data: ModelRetry) -> None:
        self._write(
            data.eval_id,
            {
                "event": "model_retry",
                "model": data.model_name,
                "sample_id": data.sample_id,
                "attempt": data.attempt,
                "wait_s": data.wait_time,
                "error": data.exception_type,
                "status_code": data.status_code,
            },
        )

    async def on_run_end(self, data: RunEnd) -> None:
        for eval_id, target in list(self.open.items()):
            if target.inspect_run_id == data.run_id:
                target.fh.close()
                if not is_remote(target.log_dir):
                    attempts.unmark(target.log_dir, {data.run_id})
                del self.open[eval_id]


def usage_audit() -> UsageAudit:
    if _instance is None:
        raise RuntimeError("the eval-orchestrator usage hook is not registered")
    return _instance
