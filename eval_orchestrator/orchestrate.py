"""The library entry points: resolve checkpoints, plan the run, run it, report outcomes.

``run`` goes one way: load tasks -> resolve and materialise every checkpoint -> build the Plan
-> one eval_set per planned version -> outcomes. Nothing goes back to the config halfway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval_orchestrator.config import build_store_config
from eval_orchestrator.errors import RegistryError, Unavailable
from eval_orchestrator.job import EvalMetadata, Job, TrackingSettings
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.outcomes import JobOutcome, RunReport
from eval_orchestrator.plan import Plan, build_plan
from eval_orchestrator.progress import TransferProgress
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import RunConfig, StoreConfig
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.spool import Spool
from eval_orchestrator.store.checkpoint_store import Materialized
from eval_orchestrator.store.factory import open_store
from eval_orchestrator.wandb_api import git_info

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog


def resolve(
    ref: CheckpointRef | str,
    store: StoreConfig | None = None,
    progress: TransferProgress | None = None,
    notify: Notify = quiet,
    registries: Registries | None = None,
    digest: str | None = None,
) -> Materialized:
    """Resolve a reference to one immutable version and materialise it.

    With ``store.cache_skip`` the result holds a lease: give it to :func:`release` when done. With
    ``digest`` (a locked run), the store's intact copy of that digest is used without asking the
    registry, and a version the registry resolves to another digest is refused.
    """
    settings = store or build_store_config()
    ref = CheckpointRef.parse(ref) if isinstance(ref, str) else ref  # the library's entry point takes text too
    registry = (registries or Registries(settings, notify)).of(ref)
    try:
        resolved = registry.resolve(ref)
    except Unavailable:
        # A locked run with the registry out of reach: the store's intact copy of the digest will do.
        if digest is not None and (kept := open_store(settings).stored(ref.collection, digest)) is not None:
            notify(f"{ref}: registry unreachable; using the stored copy of the locked digest {digest[:12]}")
            return kept
        raise
    except RegistryError as exc:
        if digest is not None:
            raise RegistryError(f"the locked version {ref} is gone: {exc}") from None
        raise
    if digest is not None and resolved.digest != digest:
        raise RegistryError(
            f"{ref} is now {resolved.digest[:12]}, the lock pins {digest[:12]}: the version changed; "
            "lock the plan again to accept it"
        )
    if resolved.in_place:
        return Materialized(resolved, Path(resolved.in_place), 0)
    on_bytes = progress.start(resolved.id.label, resolved.manifest.total_bytes) if progress else None
    return open_store(settings).fetch(
        resolved, registry.source(resolved), settings.verify, on_bytes, keep=not settings.cache_skip
    )


def release(items: list[Materialized], store: StoreConfig) -> list[Materialized]:
    """Drop the leases of checkpoints not kept (WANDB_CACHE_SKIP); returns those removed from disk."""
    target = open_store(store)
    return [item for item in items if target.release(item)]


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


def outcomes_from_logs(jobs: tuple[Job, ...], logs: list[EvalLog], context: str = "") -> list[JobOutcome]:
    """Each job's outcome from the logs its eval_set returned (a job with none is "missing")."""
    from eval_orchestrator.error_text import one_line
    from eval_orchestrator.tracking.rows import final_metrics

    by_key: dict[str, EvalLog] = {}
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
            metrics, status = final_metrics(found), str(found.status)
            results = found.results
            nothing = results is None or results.completed_samples == 0
            if status == "success" and (nothing or (metrics and all(value != value for value in metrics.values()))):
                # Inspect finished, but no sample had a score: not a result anyone should read as one.
                status, error = "unscored", error or "no sample could be scored (each errored or had no score)"
            outcomes.append(JobOutcome(job, status, metrics, location, error))
    return outcomes


def run(
    config: RunConfig,
    notify: Notify = quiet,
    model_args_override: Mapping[str, Any] | None = None,
    progress: TransferProgress | None = None,
    pins: Mapping[CheckpointRef, str] | None = None,
    inspect_env: Mapping[str, str] | None = None,
) -> RunReport:
    """Evaluate every checkpoint on every task; one eval_set per checkpoint version.

    ``pins`` (a lockfile's): reference -> the digest it must have (see :func:`resolve`)."""
    from eval_orchestrator.preflight import check_plan
    from eval_orchestrator.task_loader import load_tasks

    check_plan(config)  # secrets, model, generate config, hooks, log dir, W&B names: before any checkpoint work
    if config.executor.kind == "ray":
        from eval_orchestrator.executors.ray_executor import run_on_ray

        return run_on_ray(config, notify, dict(pins or {}))
    tasks = load_tasks(config.tasks)
    tracking = TrackingSettings.from_config(config)
    if tracking.mode == "offline":
        why = "no WANDB_API_KEY" if config.wandb.mode == "auto" else "mode is offline"
        where = f"{tracking.dir}/wandb"
        notify(f"W&B: {why}, logging offline under {where} (upload later with `eval-orchestrator sync`)")
    materialized: list[Materialized] = []
    try:
        registries = Registries(config.store, notify)
        for ref in config.checkpoints:
            item = resolve(ref, config.store, progress, notify, registries, (pins or {}).get(ref))
            notify(f"resolved {ref} -> {item.resolved.version} ({item.resolved.digest[:12]}, {_where(item)})")
            materialized.append(item)
        if tracking.mode != "disabled":  # the environment and git, once for the plan (not per W&B run)
            environment = str(Spool(tracking.dir).record_environment())
            tracking = tracking.model_copy(update={"environment": environment, "git": git_info()})
        plan = build_plan(config, materialized, tasks, tracking, model_args_override)
        return execute(plan, notify, inspect_env)
    finally:
        for item in release(materialized, config.store):
            notify(f"removed {item.resolved.collection}:{item.resolved.version} from the store (cache_skip)")


def execute(plan: Plan, notify: Notify = quiet, inspect_env: Mapping[str, str] | None = None) -> RunReport:
    """Run a Plan whose checkpoints are materialised: one eval_set per version, tracked."""
    from eval_orchestrator.launch import run_version
    from eval_orchestrator.tracking.hook import tracker

    report = RunReport(plan.tracking, [v.log_dir for v in plan.versions], [], plan=plan)
    scrub = Scrubber.of(plan.tracking.secrets)  # an error a task echoed a secret into is shown without it
    with _wandb_runs(plan):
        for version in plan.versions:
            result = run_version(plan, version, inspect_env)
            hint = context_hint(version.checkpoint.path, plan.generate.get("max_tokens"))
            outcomes = outcomes_from_logs(version.jobs, result.logs, hint)
            report.outcomes.extend(replace(o, error=scrub.text(o.error)) if o.error else o for o in outcomes)
        # Collected at the end: a writer process closes a version's runs while the next one runs.
        for version in plan.versions:
            tracked = tracker().collect(str(version.log_dir))
            report.records.extend(tracked.records)
            report.tracker_errors.extend(tracked.errors)
    for record in report.records:
        if record.fallback or record.upload_pending:
            why = record.fallback or "W&B did not take the run's data before the finish timeout"
            notify(f"run {record.run_id}: {why}; kept on disk, upload it with `eval-orchestrator sync`")
    return report


@contextlib.contextmanager
def _wandb_runs(plan: Plan) -> Iterator[None]:
    """The plan's W&B runs in a writer process when it is large enough to gain from one (wandb.writer)."""
    from eval_orchestrator.tracking import writer
    from eval_orchestrator.tracking.hook import tracker

    if not writer.uses_process(plan.wandb_writer, len(plan.jobs), plan.tracking.mode):
        yield
        return
    client = writer.WriterClient()
    try:
        with tracker().writing_to(client):
            yield
    except BaseException:
        client.close()  # waits while it closes the runs it was sent the end of (an interrupt included)
        raise
    client.close(wait=False)  # every run's record is collected


def _where(item: Materialized) -> str:
    if item.resolved.in_place:
        return f"used in place at {item.path}"
    copied = f"copied {item.bytes_copied} bytes" if item.bytes_copied else "already in the store"
    return copied + (", not kept after this run" if item.lease else "")
