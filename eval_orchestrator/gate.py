"""``gate(candidate, baseline, config)``: evaluate what is missing, compare, decide, in one call.

Fixed size: both versions are evaluated on the whole plan (a version whose logs are there is not run
again) and ``compare`` decides. Sequential: each task's samples (or whole clusters) are put in one
seeded order shared by both versions and evaluated in stages, each stage the next slice of the order
through Inspect's sample-id selection (its own plan folder under the version's log dir, so each stage
is an ordinary resumable eval set); after each stage every open task is looked at with
``comparison.sequential`` and the gate stops at the first look where every task is decided, or as soon
as one is held (the gate fails on any task). A baseline with full logs of the plan is not evaluated.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.comparison import sequential, stats
from eval_orchestrator.comparison.compare import CompareOptions, compare, find_logs
from eval_orchestrator.comparison.model import ComparisonReport
from eval_orchestrator.comparison.scores import read_task_scores
from eval_orchestrator.errors import UserError
from eval_orchestrator.job import canonical_json
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.plan import plan_identity
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.watch_config import GateConfig


class GateOptions(GateConfig):
    model_config = ConfigDict(frozen=True)

    sequential: bool = Field(default=False, description="Evaluate in stages and stop once the answer is clear.")
    looks: int = Field(default=10, ge=1, le=50, description="Stages of the sequential design.")


class TaskDecision(BaseModel):
    """Where the sequential gate stopped on one task and metric, and what it said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    metric: str
    look: int  # the look it stopped at (1-based)
    looks: int  # the looks its design has
    used: int  # samples of both versions' pairs it used
    total: int  # samples in the task's dataset
    delta: float | None
    ci: tuple[float, float] | None  # the repeated confidence interval at that look
    boundary: float  # on the t scale
    verdict: stats.Verdict
    gate: Literal["passed", "held"]


class GateResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    baseline: CheckpointRef
    candidate: CheckpointRef
    gate: Literal["passed", "held"]
    comparison: ComparisonReport | None = None  # the fixed-size gate's report
    decisions: list[TaskDecision] = Field(default_factory=list)  # the sequential gate's
    stages: int = 0  # eval sets run per version (sequential)
    samples_used: int = 0
    samples_total: int = 0
    promoted: str | None = None  # the alias moved onto the candidate


def task_label(name: str, args: dict[str, object]) -> str:
    """A task's label in logs and comparisons (publish.task_label's, from a task config)."""
    import hashlib

    return name + (f"-{hashlib.sha256(canonical_json(args).encode()).hexdigest()[:8]}" if args else "")


def gate(
    candidate: CheckpointRef,
    baseline: CheckpointRef,
    config: RunConfig,
    options: GateOptions,
    promote: str | None = None,
    notify: Notify = quiet,
) -> GateResult:
    from eval_orchestrator.preflight import check_plan

    check_plan(config)
    registries = Registries(config.store, notify)
    base, cand = registries.resolve(baseline), registries.resolve(candidate)
    if base.digest == cand.digest:
        raise UserError(f"{cand.version_ref} and {base.version_ref} are the same checkpoint: nothing to compare")
    where = CompareOptions(**options.model_dump(exclude={"sequential", "looks"}), log_dir=config.inspect.log_dir,
                           variant=plan_identity(config).folder)  # fmt: skip
    labels = [task_label(_loaded_name(t.spec), t.args) for t in config.tasks]
    have_base = _has_every_task(base, where, labels)
    if options.sequential:
        chosen = [name for name in ("limit", "sample_id") if getattr(config.inspect, name)]
        chosen += [f"tasks[{t.spec}].num_samples" for t in config.tasks if t.num_samples]
        if chosen:
            raise UserError(f"the sequential gate chooses the samples itself; remove {', '.join(chosen)} from the plan")
        result = _sequential(cand, base, have_base, config, options, where, notify)
    else:
        missing = [side.version_ref for side in (base, cand) if side is cand or not have_base]
        _evaluate(config, missing, notify)
        report = compare(base.version_ref, cand.version_ref, where, config.store, notify)
        result = GateResult(baseline=base.version_ref, candidate=cand.version_ref, gate=report.gate, comparison=report)
    if promote and result.gate == "passed":
        registries.of(cand.version_ref).set_alias(cand.version_ref, promote)
        notify(f"moved {promote} to {cand.version_ref}")
        result = result.model_copy(update={"promoted": promote})
    return result


def _loaded_name(spec: str) -> str:
    return spec.rsplit("@", 1)[-1].rsplit("/", 1)[-1] if "@" in spec else spec.rsplit("/", 1)[-1]


def _has_every_task(version: ResolvedCheckpoint, where: CompareOptions, labels: Sequence[str]) -> bool:
    try:
        return set(labels) <= set(find_logs(version, where, []))
    except UserError:  # no logs at all
        return False


def _evaluate(config: RunConfig, refs: list[CheckpointRef], notify: Notify, sample_ids: list[str] | None = None) -> str:
    """Run the plan on ``refs`` (only ``sample_ids``, when given); the plan folder its logs went to."""
    from eval_orchestrator.orchestrate import run

    inspect = config.inspect.model_copy(update={"sample_id": sample_ids}) if sample_ids is not None else config.inspect
    staged = config.model_copy(update={"checkpoints": refs, "inspect": inspect})
    if refs:
        failed = [o for o in run(staged, notify).outcomes if o.status != "success"]
        if failed:
            from eval_orchestrator.errors import EvalFailed

            names = ", ".join(f"{o.job.version}/{o.job.task_name}" for o in failed)
            raise EvalFailed(f"the gate could not evaluate {names}: {failed[0].error or failed[0].status}")
    return plan_identity(staged).folder


def _orders(config: RunConfig, cluster: str | None, seed: int) -> dict[str, tuple[str, list[list[str]]]]:
    """Per task label: Inspect's task name and its samples' ids in units (one sample, or a whole
    cluster), in one seeded order both versions share."""
    from eval_orchestrator.task_loader import load_tasks

    orders = {}
    for loaded in load_tasks(config.tasks):
        units: dict[str, list[str]] = {}
        for index, sample in enumerate(loaded.task.dataset):
            sample_id = str(sample.id if sample.id is not None else index + 1)
            key = str((sample.metadata or {}).get(cluster, f"\0{sample_id}")) if cluster else sample_id
            units.setdefault(key, []).append(sample_id)
        label = task_label(loaded.name, loaded.config.args)
        rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
        grouped = [units[k] for k in sorted(units)]
        orders[label] = (loaded.name, [grouped[i] for i in rng.permutation(len(grouped))])
    return orders


def _sequential(
    cand: ResolvedCheckpoint,
    base: ResolvedCheckpoint,
    have_base: bool,
    config: RunConfig,
    options: GateOptions,
    where: CompareOptions,
    notify: Notify,
) -> GateResult:
    orders = _orders(config, options.cluster, options.seed)
    first = sequential.MIN_FIRST_CLUSTERS if options.cluster else sequential.MIN_FIRST_LOOK
    designs = {label: sequential.schedule(len(units), options.looks, options.alpha, first)
               for label, (_, units) in orders.items()}  # fmt: skip
    done = dict.fromkeys(orders, 0)  # units evaluated per task
    looked = dict.fromkeys(orders, 0)  # looks taken per task
    folders: list[str] = []  # each stage's plan folder
    decisions: dict[str, list[TaskDecision]] = {}
    stages = 0
    for stage in range(options.looks):
        open_tasks = [label for label in orders if label not in decisions]
        if not open_tasks:
            break
        wanted: dict[str, int] = {}
        for label in open_tasks:
            sizes = designs[label][1]
            reach = round((stage + 1) / options.looks * len(orders[label][1]))
            wanted[label] = max([s for s in sizes if s <= reach], default=done[label])
        new_ids = [f"{orders[label][0]}:{sample_id}" for label in open_tasks
                   for unit in orders[label][1][done[label]:wanted[label]] for sample_id in unit]  # fmt: skip
        if not new_ids:
            continue
        refs = [cand.version_ref] if have_base else [base.version_ref, cand.version_ref]
        notify(f"gate: stage {stage + 1} of {options.looks}: {len(new_ids)} sample(s) of {len(open_tasks)} task(s)")
        folders.append(_evaluate(config, refs, notify, new_ids))
        stages += 1
        for label in open_tasks:
            done[label] = wanted[label]
            if wanted[label] not in designs[label][1]:
                continue
            index = looked[label]
            looked[label] += 1
            stopped = _look(label, index, designs[label][0], orders[label][1][: done[label]], cand, base, have_base,
                            folders, where, options)  # fmt: skip
            if stopped is not None:
                decisions[label] = stopped
        if any(d.gate == "held" for rows in decisions.values() for d in rows):
            break  # one task held holds the candidate: the rest need not be spent
    rows = [d for label in orders for d in decisions.get(label, [])]
    # Held when a task is held, or one was never decided (fails closed), or nothing was compared.
    held = any(d.gate == "held" for d in rows) or not rows or any(label not in decisions for label in orders)
    total = sum(len(ids) for _, units in orders.values() for ids in units)
    used = sum(len(ids) for label, (_, units) in orders.items() for ids in units[: done[label]])
    return GateResult(baseline=base.version_ref, candidate=cand.version_ref, gate="held" if held else "passed",
                      decisions=rows, stages=stages, samples_used=used, samples_total=total)  # fmt: skip


def _look(
    label: str,
    index: int,
    plan: sequential.Design,
    units: list[list[str]],
    cand: ResolvedCheckpoint,
    base: ResolvedCheckpoint,
    have_base: bool,
    folders: list[str],
    where: CompareOptions,
    options: GateOptions,
) -> list[TaskDecision] | None:
    """One look at one task (every metric); its decisions when every metric stopped, else None."""
    ids = [sample_id for unit in units for sample_id in unit]
    cand_scores = _scores(cand, label, folders, where)
    base_scores = _scores(base, label, [where.variant] if have_base else folders, where)
    cluster_of = {sample_id: str(n) for n, unit in enumerate(units) for sample_id in unit}
    total = sum(len(unit) for unit in units)
    out = []
    for metric in sorted(base_scores.keys() | cand_scores.keys()):
        paired = [i for i in ids if i in base_scores.get(metric, {}) and i in cand_scores.get(metric, {})]
        d = np.array([cand_scores[metric][i] - base_scores[metric][i] for i in paired])
        codes = stats.cluster_codes([cluster_of[i] for i in paired], paired) if options.cluster and paired else None
        seen = sequential.look(d, index, plan, options.margin, codes)
        if not seen.stop:
            return None
        passes = seen.verdict in ("better", "non-inferior") or (
            options.margin is None and seen.verdict == "no detectable difference"
        )
        finite = seen.verdict != "not compared"
        out.append(TaskDecision(task=label, metric=metric, look=seen.look, looks=plan.looks, used=len(paired),
                                total=total, delta=seen.delta if finite else None, ci=seen.ci if finite else None,
                                boundary=seen.boundary, verdict=seen.verdict,
                                gate="passed" if passes else "held"))  # fmt: skip
    return out or None


def _scores(
    version: ResolvedCheckpoint, label: str, folders: list[str], where: CompareOptions
) -> dict[str, dict[str, float]]:
    """metric -> sample id -> score, over the logs of ``label`` in every stage folder."""
    merged: dict[str, dict[str, float]] = {}
    for folder in dict.fromkeys(folders):
        try:
            logs = find_logs(version, where.model_copy(update={"variant": folder}), [])
        except UserError:
            continue
        if label in logs:
            for metric, values in read_task_scores(label, logs[label], None).metrics.items():
                merged.setdefault(metric, {}).update(values)
    return merged
