"""Results artifacts: what each successful job leaves in W&B (and its summary.json on disk).

Named per checkpoint collection, task and task args (never a bare 'results'), aliased with the
checkpoint version they measured. The lineage spool for ``sync`` is ``spool.py``'s.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from eval_orchestrator.job import Job
from eval_orchestrator.spool import DecisionNote, JobSummary, ResultsFiles

RESULTS_TYPE = "eval-results"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def task_label(job: Job) -> str:
    """The task, told apart from the same task with other args by their hash."""
    return job.task_name + (f"-{job.args_suffix}" if job.args_suffix else "")


def results_artifact_name(job: Job) -> str:
    """Unique per checkpoint collection, task and task args; never a bare 'results'."""
    return _results_name(job.collection, task_label(job))


def _results_name(collection: str, label: str) -> str:
    return f"{_slug(collection)}-{_slug(label)}-results"


def checkpoint_alias(job: Job) -> str:
    # 'vN' is W&B's own version index on the results artifact, so name the checkpoint version in full.
    return f"{_slug(job.collection)}-{job.version}"


def results_artifact_ref(job: Job) -> str:
    """'name:alias' of the job's results artifact, as the run summary and lineage record it."""
    return results_ref(job.collection, task_label(job), job.version)


def results_ref(collection: str, label: str, version: str) -> str:
    """'name:alias' of the results artifact of task ``label`` (see task_label) on ``collection:version``."""
    return f"{_results_name(collection, label)}:{_slug(collection)}-{version}"


def write_summary(job: Job, out_dir: Path, summary: JobSummary) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "summary.json"
    payload = {"job": job.model_dump(mode="json"), **summary.model_dump(mode="json")}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    return path


def log_results_artifact(run: Any, job: Job, results: ResultsFiles, link_to: str | None = None) -> str:
    """Log the job's results artifact on ``run`` (and link it into ``link_to``); returns 'name:alias'.

    ``results`` is what the tracker gathers, and spools for `sync` when W&B is away: paths of the
    Inspect log, summary.json and usage.jsonl, the metrics, and the Hub URL if any.
    """
    import wandb

    name = results_artifact_name(job)
    artifact = wandb.Artifact(
        name,
        type=RESULTS_TYPE,
        description=f"Inspect results of {job.task_name} on {job.ref}",
        metadata={
            "checkpoint_ref": str(job.ref),
            "checkpoint_digest": job.digest,
            "job_key": job.key,
            **results.metrics,
            **({"hf_results_url": results.hub_url} if results.hub_url else {}),
        },
    )
    log_file, usage_file = Path(results.log), Path(results.usage)
    if log_file.is_file():
        artifact.add_file(str(log_file), name=f"logs/{log_file.name}")
    artifact.add_file(results.summary, name="summary.json")
    if usage_file.is_file():
        artifact.add_file(str(usage_file), name="usage.jsonl")
    if results.environment and Path(results.environment).is_file():
        artifact.add_file(results.environment, name="requirements.txt")
    alias = checkpoint_alias(job)
    logged = run.log_artifact(artifact, aliases=[alias])
    if link_to and run.settings.mode == "online":
        run.link_artifact(logged, link_to, aliases=[alias])
    return results_artifact_ref(job)


DECISION_KEY = "watch_decision"


def add_decision(api: Any, ref: str, note: DecisionNote) -> None:
    """Put the watcher's decision into a results artifact's metadata (W&B keeps one metadata per version)."""
    artifact = api.artifact(ref, type=RESULTS_TYPE)
    artifact.metadata[DECISION_KEY] = note.model_dump(mode="json")
    artifact.save()
