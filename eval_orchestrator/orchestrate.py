"""The library entry points: resolve checkpoints, plan the run, run it, report outcomes.

``run`` goes one way: load tasks -> resolve and materialise every checkpoint -> build the Plan
-> one eval_set per planned version -> outcomes. Nothing goes back to the config halfway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.config import build_store_config
from eval_orchestrator.errors import RegistryError, Unavailable
from eval_orchestrator.job import EvalMetadata, Job, TrackingSettings
from eval_orchestrator.paths import default_registry_root, default_store_root
from eval_orchestrator.plan import Plan, build_plan
from eval_orchestrator.progress import TransferProgress
from eval_orchestrator.refs import CheckpointRef, parse_ref
from eval_orchestrator.registry.base import Registry, VersionInfo
from eval_orchestrator.registry.local import LocalRegistry
from eval_orchestrator.run_config import RunConfig, StoreConfig
from eval_orchestrator.spool import LineageRecord, Spool
from eval_orchestrator.store.checkpoint_store import CheckpointStore, Materialized

Notify = Callable[[str], None]


def local_registry(store: StoreConfig | None = None) -> LocalRegistry:
    configured = (store or build_store_config()).registry
    return LocalRegistry(Path(configured) if configured else default_registry_root())


def checkpoint_store(store: StoreConfig | None = None) -> CheckpointStore:
    settings = store or build_store_config()
    root = Path(settings.artifact_dir) if settings.artifact_dir else default_store_root()
    if root.exists() and not root.is_dir():
        from eval_orchestrator.errors import StoreError

        raise StoreError(
            f"the checkpoint store {root} is a file, not a folder; "
            "point WANDB_ARTIFACT_DIR (or --artifact-dir) at a folder"
        )
    return CheckpointStore(
        root, workers=settings.workers, part_size=settings.part_size_mb * 1024 * 1024, retries=settings.retries
    )


class Registries:
    """One registry per backend for a whole run (one W&B API session, not one per ref)."""

    def __init__(self, store: StoreConfig, notify: Notify = lambda _: None) -> None:
        self.store = store
        self.notify = notify
        self._opened: dict[str, Registry] = {}

    def for_ref(self, ref: CheckpointRef) -> Registry:
        if ref.backend not in self._opened:
            if ref.backend == "local":
                self._opened["local"] = local_registry(self.store)
            else:
                from eval_orchestrator.registry.wandb_registry import WandbRegistry

                self._opened["wandb"] = WandbRegistry(self.store, self.notify)
        return self._opened[ref.backend]

    def list_versions(self, ref: CheckpointRef) -> list[VersionInfo]:
        """Every version of ``ref``'s collection with its aliases: one listing of the registry."""
        registry = self.for_ref(ref)
        if ref.backend == "local":
            assert isinstance(registry, LocalRegistry)
            return registry.list_versions(ref.collection) if ref.collection in registry.collections() else []
        from eval_orchestrator.registry.wandb_registry import WandbRegistry

        assert isinstance(registry, WandbRegistry)
        return registry.list_versions(ref)


def resolve(
    ref_text: str,
    store: StoreConfig | None = None,
    progress: TransferProgress | None = None,
    notify: Notify = lambda _: None,
    registries: Registries | None = None,
    digest: str | None = None,
) -> Materialized:
    """Resolve a reference to one immutable version and materialise it.

    With ``store.cache_skip`` the result holds a lease: give it to :func:`release` when done. With
    ``digest`` (a locked run), the store's intact copy of that digest is used without asking the
    registry, and a version the registry resolves to another digest is refused.
    """
    settings = store or build_store_config()
    ref = parse_ref(ref_text)
    registry = (registries or Registries(settings, notify)).for_ref(ref)
    try:
        resolved = registry.resolve(ref)
    except Unavailable:
        # A locked run with the registry out of reach: the store's intact copy of the digest will do.
        if digest is not None and (kept := checkpoint_store(settings).stored(ref.collection, digest)) is not None:
            notify(f"{ref_text}: registry unreachable; using the stored copy of the locked digest {digest[:12]}")
            return kept
        raise
    except RegistryError as exc:
        if digest is not None:
            raise RegistryError(f"the locked version {ref_text} is gone: {exc}") from None
        raise
    if digest is not None and resolved.digest != digest:
        raise RegistryError(
            f"{ref_text} is now {resolved.digest[:12]}, the lock pins {digest[:12]}: the version changed; "
            "lock the plan again to accept it"
        )
    if resolved.in_place:
        return Materialized(resolved, Path(resolved.in_place), 0)
    label = f"{resolved.collection}:{resolved.version}"
    on_bytes = progress.start(label, resolved.manifest.total_bytes) if progress else None
    return checkpoint_store(settings).fetch(
        resolved, registry.source(resolved), settings.verify, on_bytes, keep=not settings.cache_skip
    )


def resolve_version(
    ref_text: str, store: StoreConfig, notify: Notify = lambda _: None, registries: Registries | None = None
) -> ResolvedCheckpoint:
    """The version and digest ``ref_text`` names now, through its registry (no bytes fetched)."""
    ref = parse_ref(ref_text)
    return (registries or Registries(store, notify)).for_ref(ref).resolve(ref)


def release(items: list[Materialized], store: StoreConfig) -> list[Materialized]:
    """Drop the leases of checkpoints not kept (WANDB_CACHE_SKIP); returns those removed from disk."""
    target = checkpoint_store(store)
    return [item for item in items if target.release(item)]


@dataclass(frozen=True)
class JobOutcome:
    job: Job
    status: str  # Inspect's log status, or "missing" when no log came back
    metrics: dict[str, float]
    log_path: str | None
    error: str | None = None  # Inspect's error message when the eval failed, on one line

    @property
    def headline(self) -> tuple[str, float] | None:
        return next(iter(self.metrics.items()), None)


@dataclass
class RunReport:
    plan: Plan
    outcomes: list[JobOutcome]
    records: list[LineageRecord] = field(default_factory=list)  # the tracker's, one per job attempt
    tracker_errors: list[str] = field(default_factory=list)

    @property
    def tracking(self) -> TrackingSettings:
        return self.plan.tracking

    @property
    def log_dirs(self) -> list[Path]:
        return [version.log_dir for version in self.plan.versions]

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status != "success"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.tracker_errors

    @property
    def lineage_file(self) -> Path:
        return Spool(self.tracking.dir).lineage_file


def context_hint(checkpoint: Path, max_tokens: Any) -> str:
    """What to say when a model indexes past its position table: its context and the max_tokens asked."""
    import json

    try:
        config = json.loads((checkpoint / "config.json").read_text())
    except (OSError, ValueError):
        return ""
    positions = config.get("n_positions") or config.get("max_position_embeddings") if isinstance(config, dict) else None
    if not isinstance(positions, int):
        return ""
    asked = f"max_tokens {max_tokens}" if max_tokens else "max_tokens unset (the provider's default)"
    return (
        f"the checkpoint's context is {positions} positions and the prompt plus {asked} went past it: "
        "lower --max-tokens, shorten the prompt (-T / --limit a smaller task), or use a longer-context checkpoint"
    )


def _outcomes(jobs: tuple[Job, ...], logs: list[Any], context: str = "") -> list[JobOutcome]:
    from eval_orchestrator.error_text import one_line
    from eval_orchestrator.tracking.rows import final_metrics

    by_key: dict[str, Any] = {}
    for eval_log in logs:
        meta = EvalMetadata.from_inspect(eval_log.eval.metadata)
        if meta is not None:
            by_key[meta.job.key] = eval_log
    outcomes = []
    for job in jobs:
        found = by_key.get(job.key)
        if found is None:
            outcomes.append(JobOutcome(job, "missing", {}, None))
        else:
            error = one_line(found.error.message) if found.error is not None else None
            if error and context and "index out of range" in error.lower():  # an embedding lookup past the end
                error = f"{context} ({error[:120]})"
            location = str(found.location)
            if location.startswith("file://"):  # a reused log comes back as a URI; one form for users
                from urllib.parse import unquote

                location = unquote(location.removeprefix("file://"))
            outcomes.append(JobOutcome(job, found.status, final_metrics(found), location, error))
    return outcomes


def run(
    config: RunConfig,
    notify: Notify = lambda _: None,
    model_args_override: Mapping[str, Any] | None = None,
    progress: TransferProgress | None = None,
    pins: Mapping[str, str] | None = None,
) -> RunReport:
    """Evaluate every checkpoint on every task; one eval_set per checkpoint version.

    ``pins`` (a lockfile's): reference -> the digest it must have (see :func:`resolve`)."""
    from eval_orchestrator.preflight import check_plan
    from eval_orchestrator.task_loader import load_tasks

    check_plan(config)  # secrets, model, generate config, hooks, log dir, W&B names: before any checkpoint work
    tasks = load_tasks(config.tasks)
    tracking = TrackingSettings.from_config(config)
    if tracking.mode == "offline":
        why = "no WANDB_API_KEY" if config.wandb.mode == "auto" else "mode is offline"
        where = f"{tracking.dir}/wandb"
        notify(f"W&B: {why}, logging offline under {where} (upload later with `eval-orchestrator sync`)")
    materialized: list[Materialized] = []
    try:
        registries = Registries(config.store, notify)
        for ref_text in config.checkpoints:
            item = resolve(ref_text, config.store, progress, notify, registries, (pins or {}).get(ref_text))
            notify(f"resolved {ref_text} -> {item.resolved.version} ({item.resolved.digest[:12]}, {_where(item)})")
            materialized.append(item)
        plan = build_plan(config, materialized, tasks, tracking, model_args_override)
        return execute(plan, notify)
    finally:
        for item in release(materialized, config.store):
            notify(f"removed {item.resolved.collection}:{item.resolved.version} from the store (cache_skip)")


def execute(plan: Plan, notify: Notify = lambda _: None) -> RunReport:
    """Run a Plan whose checkpoints are materialised: one eval_set per version, tracked."""
    from eval_orchestrator.launch import run_version
    from eval_orchestrator.tracking.hook import tracker

    report = RunReport(plan, [])
    for version in plan.versions:
        result = run_version(plan, version)
        hint = context_hint(version.checkpoint.path, plan.generate.get("max_tokens"))
        report.outcomes.extend(_outcomes(version.jobs, result.logs, hint))
        tracked = tracker().collect(str(version.log_dir))
        report.records.extend(tracked.records)
        report.tracker_errors.extend(tracked.errors)
    for record in report.records:
        if record.fallback or record.upload_pending:
            why = record.fallback or "W&B did not take the run's data before the finish timeout"
            notify(f"run {record.run_id}: {why}; kept on disk, upload it with `eval-orchestrator sync`")
    return report


def _where(item: Materialized) -> str:
    if item.resolved.in_place:
        return f"used in place at {item.path}"
    copied = f"copied {item.bytes_copied} bytes" if item.bytes_copied else "already in the store"
    return copied + (", not kept after this run" if item.lease else "")
