"""The library entry points: resolve checkpoints, run the plan, report outcomes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval_orchestrator.config import RunConfig, StoreConfig, build_store_config
from eval_orchestrator.errors import UserError
from eval_orchestrator.paths import default_registry_root, default_store_root
from eval_orchestrator.plan import METADATA_KEY, Job
from eval_orchestrator.publish import lineage_spool
from eval_orchestrator.refs import CheckpointRef, parse_ref
from eval_orchestrator.registry.base import Registry
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.store.checkpoint_store import CheckpointStore, Materialized

Notify = Callable[[str], None]

DEFAULT_PROJECT = "eval-orchestrator"


def local_registry(store: StoreConfig | None = None) -> LocalRegistry:
    configured = (store or build_store_config()).registry
    return LocalRegistry(Path(configured) if configured else default_registry_root())


def checkpoint_store(store: StoreConfig | None = None) -> CheckpointStore:
    settings = store or build_store_config()
    root = Path(settings.artifact_dir) if settings.artifact_dir else default_store_root()
    return CheckpointStore(root, workers=settings.workers)


def open_registry(ref: CheckpointRef, store: StoreConfig | None = None) -> Registry:
    if ref.backend == "local":
        return local_registry(store)
    raise UserError(
        f"W&B registry references like {str(ref)!r} are not supported yet; "
        "register the checkpoint locally with `eval-orchestrator registry add` and use 'local-registry/...'"
    )


def resolve(
    ref_text: str, store: StoreConfig | None = None, on_bytes: Callable[[int], None] | None = None
) -> Materialized:
    """Resolve a reference to one immutable version and materialise it in the store."""
    settings = store or build_store_config()
    ref = parse_ref(ref_text)
    registry = open_registry(ref, settings)
    resolved = registry.resolve(ref)
    return checkpoint_store(settings).fetch(resolved, registry.source(resolved), settings.verify, on_bytes)


def wandb_settings(config: RunConfig) -> dict[str, Any]:
    """Settings the tracking hook reads from the eval metadata (never a secret)."""
    mode = config.wandb.mode
    if mode == "auto":
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    wandb_dir = Path(config.wandb.dir or ".").resolve()
    wandb_dir.mkdir(parents=True, exist_ok=True)
    return {
        "project": config.wandb.project or DEFAULT_PROJECT,
        "entity": config.wandb.entity,
        "mode": mode,
        "dir": str(wandb_dir),
        "tags": list(config.wandb.tags),
    }


@dataclass
class JobOutcome:
    job: Job
    status: str  # Inspect's log status, or "missing" when no log came back
    metrics: dict[str, float]
    log_path: str | None

    @property
    def headline(self) -> tuple[str, float] | None:
        return next(iter(self.metrics.items()), None)


@dataclass
class RunReport:
    outcomes: list[JobOutcome]
    wandb: dict[str, Any]
    log_dirs: list[Path]
    tracker_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status != "success"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.tracker_errors

    @property
    def lineage_file(self) -> Path:
        return lineage_spool(self.wandb["dir"]) / "lineage.jsonl"


def _outcomes(jobs: list[Job], logs: list[Any]) -> list[JobOutcome]:
    from eval_orchestrator.tracking import final_metrics

    by_key: dict[str, Any] = {}
    for eval_log in logs:
        ours = (eval_log.eval.metadata or {}).get(METADATA_KEY) or {}
        key = (ours.get("job") or {}).get("key")
        if key:
            by_key[key] = eval_log
    outcomes = []
    for job in jobs:
        found = by_key.get(job.key)
        if found is None:
            outcomes.append(JobOutcome(job, "missing", {}, None))
        else:
            outcomes.append(JobOutcome(job, found.status, final_metrics(found), found.location))
    return outcomes


def run(
    config: RunConfig,
    notify: Notify = lambda _: None,
    model_args_override: dict[str, Any] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> RunReport:
    """Evaluate every checkpoint on every task; one eval_set per checkpoint version."""
    from eval_orchestrator.launch import load_tasks, run_version
    from eval_orchestrator.tracking import tracker

    load_tasks(config.tasks)  # fail on a missing task before any checkpoint work
    settings = wandb_settings(config)
    if settings["mode"] == "offline":
        why = "no WANDB_API_KEY" if config.wandb.mode == "auto" else "mode is offline"
        notify(f"W&B: {why}, logging offline under {settings['dir']}/wandb (upload later with `wandb sync`)")
    materialized = []
    for ref_text in config.checkpoints:
        item = resolve(ref_text, config.store, on_bytes=on_bytes)
        copied = f"copied {item.bytes_copied} bytes" if item.bytes_copied else "already in the store"
        notify(f"resolved {ref_text} -> {item.resolved.version} ({item.resolved.digest[:12]}, {copied})")
        materialized.append(item)

    hook = tracker()
    errors_before = len(hook.errors)
    outcomes: list[JobOutcome] = []
    log_dirs: list[Path] = []
    seen: set[str] = set()
    for item in materialized:
        if item.resolved.digest in seen:
            continue  # two refs (e.g. :latest and :v1) naming one version run once
        seen.add(item.resolved.digest)
        result = run_version(config, item, settings, model_args_override)
        log_dirs.append(result.log_dir)
        outcomes.extend(_outcomes(result.jobs, result.logs))
    return RunReport(outcomes, settings, log_dirs, hook.errors[errors_before:])
