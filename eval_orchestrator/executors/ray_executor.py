"""`executor: ray`: a plan's units as Ray tasks, on a cluster or a local Ray instance.

The driver resolves each checkpoint to its version and digest (no bytes fetched here), then submits one
unit per version (``split: version``: the model loaded once for its tasks) or, with ``split: task``, a
capture unit per version (Inspect's capture mode lists its tasks' identifiers) and then one unit per
task through Inspect's selection mode, every worker writing into the version's one log dir. Each unit
asks for the configured resources; the declared secrets and the W&B / S3 / Hub settings travel in its
task's environment, never in its arguments.

A unit whose worker dies (kill -9, a lost node) is submitted again, up to ``max_attempts``: the new
attempt resumes from the logs (finished samples are reused) and continues the same W&B runs. Ctrl-C
or SIGTERM cancels every unit still running (no task is left behind on the cluster) and exits 130/143.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eval_orchestrator import env
from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.errors import ConfigError, OrchestratorError, Unavailable
from eval_orchestrator.executor_config import ExecutorConfig
from eval_orchestrator.executors.ray_cluster import Cluster, connected, probe, require_ray
from eval_orchestrator.executors.ray_units import ProgressBoard, UnitResult, UnitSpec, judged, run_unit
from eval_orchestrator.job import Job, TrackingSettings
from eval_orchestrator.notify import Notify
from eval_orchestrator.outcomes import JobOutcome, RunReport
from eval_orchestrator.paths import is_remote
from eval_orchestrator.plan import log_dir_for, make_job, plan_identity
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import RunConfig

POLL_S = 1.0


def check_log_dir(config: RunConfig) -> None:
    """Every worker writes into the log dir: s3://..., or an absolute path (refused before any cluster
    starts: a relative one would land in each worker's own working directory)."""
    log_dir = config.inspect.log_dir
    if not is_remote(log_dir) and not Path(log_dir).is_absolute():
        raise ConfigError(
            f"executor: ray: inspect.log_dir {log_dir!r} is relative; the workers need the same folder: give an "
            "absolute path on storage every node shares, or s3://bucket/prefix"
        )


def check_shared(config: RunConfig, cluster: Cluster) -> None:
    """With more than one node, a folder log dir must be one every node sees: a marker written here is
    looked for from each node (as Ray Train checks its storage_path)."""
    log_dir = config.inspect.log_dir
    if is_remote(log_dir) or len(cluster.nodes) < 2:
        return
    if not _seen_by_every_node(Path(log_dir), cluster):
        raise ConfigError(
            f"executor: ray: inspect.log_dir {log_dir} is not shared by the cluster's {len(cluster.nodes)} nodes (a "
            "file written here is not seen there); use a shared filesystem path or s3://bucket/prefix"
        )


def _paths_fixed(config: RunConfig) -> RunConfig:
    """Relative paths made absolute here, where they were meant: a worker's working directory is not
    the driver's. (A relative log dir on a cluster the run joins is refused instead: see check_log_dir.)"""

    def absolute(path: str | None) -> str | None:
        return None if path is None or is_remote(path) else str(Path(path).expanduser().absolute())

    def task_file(spec: str) -> str:
        file, at, name = spec.partition("@")
        return f"{absolute(file)}{at}{name}" if file.endswith(".py") and Path(file).is_file() else spec

    update: dict[str, Any] = {
        "tasks": [t.model_copy(update={"spec": task_file(t.spec)}) for t in config.tasks],
        "store": config.store.model_copy(
            update={"artifact_dir": absolute(config.store.artifact_dir), "registry": absolute(config.store.registry)}
        ),
        "wandb": config.wandb.model_copy(update={"dir": absolute(config.wandb.dir)}),
    }
    if not config.executor.address:  # the local instance runs here: "logs" means ./logs
        update["inspect"] = config.inspect.model_copy(update={"log_dir": absolute(config.inspect.log_dir)})
    return config.model_copy(update=update)


def _seen_by_every_node(folder: Path, cluster: Cluster) -> bool:
    ray = require_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f".eval-orchestrator-shared-{time.time_ns()}"
    marker.write_text("shared")
    probe = ray.remote(num_cpus=0)(lambda path: Path(path).is_file())
    try:
        strategies = [NodeAffinitySchedulingStrategy(node, soft=False) for node in cluster.nodes]
        return all(ray.get([probe.options(scheduling_strategy=s).remote(str(marker)) for s in strategies]))
    finally:
        marker.unlink(missing_ok=True)


class RayRun:
    """One run's units on the cluster: submitted, followed, retried, collected."""

    def __init__(self, config: RunConfig, settings: ExecutorConfig, notify: Notify) -> None:
        self.config, self.settings, self.notify = config, settings, notify
        ray = require_ray()
        self.ray = ray
        self.board = ray.remote(ProgressBoard).options(num_cpus=0).remote()
        runtime_env = dict(settings.runtime_env)
        secrets = tuple(s.name for s in config.secrets)
        runtime_env["env_vars"] = {**dict(runtime_env.get("env_vars") or {}), **env.for_workers(secrets)}
        self.remote = ray.remote(run_unit).options(
            num_cpus=settings.num_cpus,
            num_gpus=settings.num_gpus,
            memory=settings.memory,
            resources=settings.resources or None,
            runtime_env=runtime_env,
            max_retries=0,  # a dead worker is retried by us, with the attempt counted and the logs resumed
        )
        self.pending: dict[Any, UnitSpec] = {}
        self.shown: dict[str, tuple[int, str, int]] = {}
        self.jobs: dict[str, list[Job]] = {}  # each unit's jobs, for the outcome of one that never came back

    def submit(self, spec: UnitSpec, jobs: list[Job] | None = None) -> None:
        if jobs is not None:
            self.jobs[spec.label] = jobs
        self.pending[self.remote.remote(spec, self.board)] = spec

    def results(self) -> list[UnitResult]:
        """Follow every submitted unit to its end (resubmitting those whose worker died)."""
        done: list[UnitResult] = []
        try:
            while self.pending:
                ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
                self._show_progress()
                for ref in ready:
                    spec = self.pending.pop(ref)
                    if (result := self._collect(ref, spec)) is not None:
                        done.append(result)
        except BaseException:
            self.cancel()
            raise
        self._show_progress()
        return done

    def _collect(self, ref: Any, spec: UnitSpec) -> UnitResult | None:
        from ray.exceptions import NodeDiedError, RayTaskError, WorkerCrashedError

        try:
            result: UnitResult = self.ray.get(ref)
        except (WorkerCrashedError, NodeDiedError) as exc:
            if spec.attempt >= self.settings.max_attempts:
                reason = f"its worker died {spec.attempt} time(s) ({type(exc).__name__})"
                self.notify(f"{spec.label}: {reason}; giving up")
                return self._failed(spec, reason)
            self.notify(f"{spec.label}: worker died ({type(exc).__name__}); attempt {spec.attempt + 1} of "
                        f"{self.settings.max_attempts}, resuming from the logs")  # fmt: skip
            self.submit(_next_attempt(spec))
            return None
        except RayTaskError as exc:  # our code raised in the worker: its own error, with its exit code
            cause = exc.cause
            if isinstance(cause, OrchestratorError | KeyboardInterrupt):
                raise cause from None
            raise
        _drop_resumed_log(spec, result)
        return result

    def _failed(self, spec: UnitSpec, reason: str) -> UnitResult:
        outcomes = [JobOutcome(job, "error", {}, None, reason) for job in self.jobs.get(spec.label, [])]
        return UnitResult(spec.label, "", spec.attempt, outcomes)

    def _show_progress(self) -> None:
        snapshot: dict[str, tuple[str, int, int, str, int]] = self.ray.get(self.board.snapshot.remote())
        for job, (_unit, done, planned, node, attempt) in sorted(snapshot.items()):
            if self.shown.get(job) != (done, node, attempt):
                self.shown[job] = (done, node, attempt)
                self.notify(f"{job}: {done}/{planned} samples on node {node[:12]} (attempt {attempt})")

    def cancel(self) -> None:
        """Stop every unit still running (Ctrl-C, SIGTERM, or an error here): none is left on the cluster."""
        if not self.pending:
            return
        self.notify(f"cancelling {len(self.pending)} Ray task(s)")
        for ref in list(self.pending):
            self.ray.cancel(ref, force=True)
        self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=30)
        self.pending.clear()


def _drop_resumed_log(spec: UnitSpec, result: UnitResult) -> None:
    """A selected task that resumed a dead attempt's log wrote its own beside it; with no eval-set
    bookkeeping in the worker, the runner removes the old one (as eval_set does for a local run)."""
    resumed = spec.selection[2] if spec.selection else None
    if resumed is None or not result.outcomes or any(o.status != "success" for o in result.outcomes):
        return
    from eval_orchestrator import inspect_api

    # Inspect recovers a dead log's samples into <name>-recovered.eval before resuming from it.
    for old in (resumed, resumed.removesuffix(".eval") + "-recovered.eval"):
        if all(o.log_path and o.log_path.rsplit("/", 1)[-1] != old.rsplit("/", 1)[-1] for o in result.outcomes):
            inspect_api.remove_log(old)


def _next_attempt(spec: UnitSpec) -> UnitSpec:
    """The unit again: a selected task resumes the log its dead attempt left (finished samples reused;
    a whole version's eval_set finds its own)."""
    from dataclasses import replace

    if spec.selection is None:
        return replace(spec, attempt=spec.attempt + 1)
    from eval_orchestrator import inspect_api

    set_id, identifier, _ = spec.selection
    _, resume = inspect_api.task_logs(spec.log_dir, identifier)
    return replace(spec, attempt=spec.attempt + 1, selection=(set_id, identifier, resume))


def run_on_ray(config: RunConfig, notify: Notify, pins: dict[CheckpointRef, str] | None = None) -> RunReport:
    """Evaluate the plan on Ray; the report as a local run gives it, each outcome naming its node."""
    from eval_orchestrator.task_loader import load_tasks

    config = _paths_fixed(config)
    check_log_dir(config)
    if config.executor.address:
        probe(config.executor.address)  # a cluster that does not answer: 75 now, before the registry is asked
    loaded = load_tasks(config.tasks)  # a task that does not load fails here, before the cluster is asked
    registries = Registries(config.store, notify)
    versions: dict[str, ResolvedCheckpoint] = {}
    for ref in config.checkpoints:  # resolved here (no bytes): workers fetch by the pinned digest
        resolved = registries.resolve(ref)
        if pins and ref in pins and pins[ref] != resolved.digest:
            raise ConfigError(f"{ref} is now {resolved.digest[:12]}, the lock pins {pins[ref][:12]}: lock it again")
        versions.setdefault(resolved.digest, resolved)
    tracking = TrackingSettings.from_config(config)
    local = config.executor.model_copy(update={"kind": "local"})
    identity = plan_identity(config)
    with connected(config.executor, notify) as cluster:
        check_shared(config, cluster)
        notify(f"Ray: {len(cluster.nodes)} node(s), {len(versions)} version(s), split by {config.executor.split}")
        run = RayRun(config, config.executor, notify)
        units = []
        for resolved in versions.values():
            unit_config = config.model_copy(update={"checkpoints": [resolved.version_ref], "executor": local})
            spec = UnitSpec(resolved.id.label, unit_config, {resolved.version_ref: resolved.digest})
            units.append((spec, [make_job(resolved, task, identity.variant) for task in loaded]))
        done: list[JobOutcome] = []
        if config.executor.split == "task":
            units, done = _task_units(run, units, config, identity.folder)
        for spec, jobs in units:
            run.submit(spec, jobs)
        results = run.results()
    log_dirs = [log_dir_for(config.inspect.log_dir, r.collection, r.version, r.digest, identity.folder)
                for r in versions.values()]  # fmt: skip
    report = RunReport(tracking, log_dirs, [*done, *(o for r in results for o in r.outcomes)])
    for result in results:
        report.records.extend(result.records)
        report.tracker_errors.extend(result.tracker_errors)
    return report


Unit = tuple[UnitSpec, list[Job]]


def _task_units(
    run: RayRun, versions: list[Unit], config: RunConfig, folder: str
) -> tuple[list[Unit], list[JobOutcome]]:
    """``split: task``: capture each version's tasks (on a worker: resolving them loads the model), then
    one unit per task, selected by its identifier, stamped with the version log dir's eval set id. As
    eval_set does for a local run, a task an earlier run finished is not run again (its outcome is read
    from its log), and one it left unfinished is resumed. Returns the units and those outcomes."""
    from dataclasses import replace

    from eval_orchestrator import inspect_api
    from eval_orchestrator.orchestrate import outcomes_from_logs

    for spec, _ in versions:
        run.submit(replace(spec, capture=True))
    captured = {result.label: result.captured for result in run.results()}
    units: list[Unit] = []
    done: list[JobOutcome] = []
    for spec, jobs in versions:
        ref = spec.config.checkpoints[0]
        where = log_dir_for(config.inspect.log_dir, ref.collection, ref.alias, spec.pins[ref], folder)
        if isinstance(where, Path):
            where.mkdir(parents=True, exist_ok=True)
        set_id = inspect_api.eval_set_id(str(where))  # written once, by the runner, before any worker starts
        # One file's task may be in the plan several times, with different args: told apart by their hash.
        identifiers = {
            (name.rsplit("/", 1)[-1], args_hash): identifier for name, identifier, _, args_hash in captured[spec.label]
        }
        for job in jobs:
            identifier = identifiers.get((job.task_name, inspect_api.task_args_hash(job.task_args)))
            if identifier is None:
                raise Unavailable(
                    f"{spec.label}: the capture listed no task {job.task_name!r} with args {job.task_args}"
                )
            finished, resume = inspect_api.task_logs(str(where), identifier)
            if finished is not None:
                done += [judged(o, config.inspect.fail_on_error) for o in outcomes_from_logs((job,), [finished])]
                continue
            task = next(t for t in config.tasks if t.spec == job.task_spec and t.args == job.task_args)
            one = spec.config.model_copy(update={"tasks": [task]})
            label, selection = f"{spec.label}/{job.task_name}", (set_id, identifier, resume)
            unit = replace(spec, label=label, config=one, selection=selection, log_dir=str(where))
            units.append((unit, [job]))
    return units, done
