"""One unit of a plan on a Ray worker: what the driver sends (``UnitSpec``: the run config pinned to one
version, and for ``split: task`` the one task), what comes back (``UnitResult``), and the function that
runs in the worker process.

The worker runs the same code a local run does (``orchestrate.run``: the checkpoint resolved by its
pinned digest into the worker's store, one ``eval_set``, our hooks tracking each job in W&B), so each
job has one W&B run whatever the executor. Secrets are never in a spec: they reach the worker through
its task's environment.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eval_orchestrator.outcomes import JobOutcome
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.spool import LineageRecord


@dataclass(frozen=True)
class UnitSpec:
    label: str  # tiny:v1, or tiny:v1/task for split: task
    config: RunConfig  # one checkpoint, pinned to its version; executor local (it runs where it lands)
    pins: dict[CheckpointRef, str]  # the pinned reference -> the digest it must have
    attempt: int = 1
    capture: bool = False  # enumerate the version's tasks (Inspect's capture mode) instead of running them
    selection: tuple[str, str, str | None] | None = None  # (eval set id, task identifier, log to resume)
    log_dir: str = ""  # the version's log dir (where a selected task's earlier attempt left its log)


@dataclass(frozen=True)
class UnitResult:
    label: str
    node_id: str
    attempt: int
    outcomes: list[JobOutcome]
    records: list[LineageRecord] = field(default_factory=list)
    tracker_errors: list[str] = field(default_factory=list)
    captured: list[tuple[str, str, str | None, str]] = field(default_factory=list)  # a capture's tasks


class ProgressBoard:
    """A Ray actor the units report their progress to, and the driver reads (samples done of planned,
    node, attempt, per job)."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, int, int, str, int]] = {}

    def report(self, unit: str, job: str, done: int, planned: int, node: str, attempt: int) -> None:
        self.jobs[job] = (unit, done, planned, node, attempt)

    def snapshot(self) -> dict[str, tuple[str, int, int, str, int]]:
        return dict(self.jobs)


def run_unit(spec: UnitSpec, board: Any) -> UnitResult:
    """The Ray task: evaluate one unit here, reporting progress to ``board``."""
    import ray

    from eval_orchestrator import env, inspect_api, orchestrate
    from eval_orchestrator.tracking import sinks

    node = str(ray.get_runtime_context().get_node_id())
    # A worker inherits its raylet's environment: a WANDB_SERVICE there would put every unit's runs in
    # one long-lived wandb service, where a killed unit's run stays "in use" for its retry. Its own.
    env.unset("WANDB_SERVICE")

    def progress(label: str, key: str, done: int, planned: int) -> None:
        board.report.remote(spec.label, label, done, planned, node, spec.attempt)

    with tempfile.TemporaryDirectory(prefix="eval-orchestrator-unit-") as scratch:
        folder = Path(scratch)
        if spec.capture:
            manifest = folder / "capture.json"
            with contextlib.suppress(SystemExit):  # capture mode ends eval_set so, having written the manifest
                orchestrate.run(spec.config, pins=spec.pins, inspect_env=inspect_api.capture_env(manifest))
            return UnitResult(spec.label, node, spec.attempt, [], captured=inspect_api.captured_tasks(manifest))
        extra = inspect_api.selection_env(folder, *spec.selection) if spec.selection else None
        with sinks.reporting_to(progress):
            report = orchestrate.run(spec.config, pins=spec.pins, inspect_env=extra)
    outcomes = [replace(o, node_id=node) for o in report.outcomes]
    if spec.selection:  # it ran that task alone (its file's other tasks are not "missing" here), errors allowed
        outcomes = [judged(o, spec.config.inspect.fail_on_error) for o in outcomes if o.status != "missing"]
    return UnitResult(
        label=spec.label,
        node_id=node,
        attempt=spec.attempt,
        outcomes=outcomes,
        records=list(report.records),
        tracker_errors=list(report.tracker_errors),
    )


def judged(outcome: JobOutcome, fail_on_error: bool | float | None) -> JobOutcome:
    """Inspect runs a selected task with fail_on_error off, leaving the decision to the runner: a task
    whose sample errors pass the plan's fail_on_error is failed here, as a local run would fail it."""
    from eval_orchestrator import inspect_api

    if outcome.status != "success" or not outcome.log_path:
        return outcome
    failed = inspect_api.should_fail(outcome.log_path, fail_on_error)
    if failed is None:
        return outcome
    errored, total = failed
    reason = f"{errored} of {total} samples errored (fail_on_error: {fail_on_error})"
    return replace(outcome, status="error", error=reason)
