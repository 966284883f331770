"""Pure builders of what goes into W&B for a job: run id, run config, per-sample rows, metrics.

No hook, no W&B run: ``sync`` and the report import these without registering anything.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import version as pkg_version
from typing import TYPE_CHECKING, Any

from eval_orchestrator.job import Job
from eval_orchestrator.redact import redact
from eval_orchestrator.run_config import ModelConfig

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, EvalSample, EvalSpec

PROGRESS_INTERVAL_S = 1.0
EXCERPT_CHARS = 1000  # per cell of the per-sample table: enough to read, not a copy of the log
FIXED_COLUMNS = ("sample_id", "epoch", "input", "output", "target")
LIMITS = ("message_limit", "token_limit", "time_limit", "working_limit", "turn_limit", "cost_limit", "fail_on_error",
          "retry_on_error", "continue_on_fail", "score_on_error")  # fmt: skip
OFF_BY_DEFAULT = ("continue_on_fail", "score_on_error")  # off is Inspect's default: not a distinction
DEFAULT_MODEL = str(ModelConfig.model_fields["name"].default)


def run_id(job_key: str) -> str:
    """The W&B run id of a job: derived from its key, so every attempt of the job logs to one run."""
    return hashlib.sha256(job_key.encode()).hexdigest()[:20]


def run_name(job: Job) -> str:
    return job.label + (f"-{job.args_suffix}" if job.args_suffix else "")


def run_tags(job: Job, extra: tuple[str, ...]) -> list[str]:
    return sorted({job.collection, job.version, job.task_name, *job.aliases, *extra})[:64]  # W&B's cap


@functools.cache  # the installed versions do not change within a process (read once, not per run)
def versions() -> dict[str, str]:
    return {name: pkg_version(name) for name in ("eval-orchestrator", "inspect-ai", "wandb")}


def model_labels(spec: EvalSpec) -> dict[str, str]:
    """Readable names for the models of an eval: its model is "model", a role's "role/<name>" (a
    checkpoint's resolved name is a store path, which means nothing in a W&B key)."""
    labels = {str(spec.model): "model"}
    for role, configs in (spec.model_roles or {}).items():
        for config in configs if isinstance(configs, list) else [configs]:  # a role with fallbacks
            labels.setdefault(str(config.model), f"role/{role}")
    return labels


def _settings(value: Any) -> Any:
    """A pydantic config's non-default values, as plain JSON (None when there are none)."""
    if value is None:
        return None
    dumped = value.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return dumped or None


def run_config(job: Job, spec: EvalSpec, eval_id: str) -> dict[str, Any]:
    """Flat keys, so the W&B UI can group and filter on each."""
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
        "checkpoint_aliases": list(job.aliases),
        "checkpoint_ref": str(job.ref),
        "checkpoint_requested_ref": str(job.requested_ref),
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
        # What makes two runs of one version differ, with the plan's own templates (not store paths)
        "model_spec": job.variant.get("model", DEFAULT_MODEL),
        "model_args": redact(spec.model_args),
        "model_roles": redact(job.variant.get("model_roles") or {}),
        "generate_config": redact(_settings(spec.model_generate_config) or {}),
        "epochs": spec.config.epochs,
        "epochs_reducer": spec.config.epochs_reducer,
        "limit": spec.config.limit,
        "sample_id": spec.config.sample_id,
        "sample_shuffle": spec.config.sample_shuffle,
        "limits": {
            k: limit
            for k in LIMITS
            if (limit := getattr(spec.config, k, None)) is not None and not (k in OFF_BY_DEFAULT and limit is False)
        },
        "inspect_eval_id": eval_id,
        "eval_orchestrator_version": v["eval-orchestrator"],
        "inspect_ai_version": v["inspect-ai"],
        "wandb_version": v["wandb"],
    }


def excerpt(value: Any) -> str:
    if isinstance(value, list):
        value = "\n".join(getattr(m, "text", str(m)) for m in value)
    text = "" if value is None else str(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def sample_row(sample: EvalSample, scores: dict[str, float]) -> dict[str, Any]:
    """One row of the per-sample W&B table."""
    return {
        "sample_id": str(sample.id),
        "epoch": sample.epoch,
        "input": excerpt(sample.input),
        "output": excerpt(sample.output.completion if sample.output else ""),
        "target": excerpt(sample.target),
        **scores,
        "tokens": sum(u.total_tokens for u in (sample.model_usage or {}).values()),
        "error": excerpt(sample.error.message) if sample.error else "",
    }


def samples_table(rows: list[dict[str, Any]]) -> Any:
    """The per-sample rows as a wandb.Table: fixed columns, one per score, then tokens and error."""
    import wandb

    scores = sorted({k for row in rows for k in row} - {*FIXED_COLUMNS, "tokens", "error"})
    columns: list[str | int] = [*FIXED_COLUMNS, *scores, "tokens", "error"]
    return wandb.Table(columns=columns, data=[[row.get(str(c)) for c in columns] for row in rows])


def final_metrics(eval_log: EvalLog) -> dict[str, float]:
    """``scorer/metric`` -> value from an Inspect EvalLog's results."""
    metrics: dict[str, float] = {}
    if eval_log.results:
        for score in eval_log.results.scores:
            for metric in score.metrics.values():
                metrics[f"{score.name}/{metric.name}"] = metric.value
    return metrics
