"""``gate(candidate, baseline, config)``: evaluate what is missing, compare, decide, in one call.

Fixed size: both versions are evaluated on the whole plan (a version whose logs are there is not run
again) and ``compare`` decides. Sequential (``gate_stages``): evaluated in stages, stopping at the
first look where every task is decided. A baseline with full logs of the plan is not evaluated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval_orchestrator.checkpoint import ResolvedCheckpoint
from eval_orchestrator.comparison.compare import CompareOptions, compare, find_logs
from eval_orchestrator.comparison.model import ComparisonReport
from eval_orchestrator.errors import UserError
from eval_orchestrator.gate_stages import TaskDecision, run_stages, task_label
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.plan import plan_identity
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.factory import Registries
from eval_orchestrator.run_config import RunConfig
from eval_orchestrator.trail import GateEvidence, move_alias, now, record_gate
from eval_orchestrator.watch_config import GateConfig


class GateResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    baseline: CheckpointRef
    candidate: CheckpointRef
    gate: Literal["passed", "held"]
    comparison: ComparisonReport  # the rows compare prints (sequential: at the look each task stopped)
    decisions: list[TaskDecision] = Field(default_factory=list)  # where the sequential gate stopped
    stages: int = 0  # eval sets run per version (sequential)
    samples_used: int = 0
    samples_total: int = 0
    tokens_used: int = 0  # the candidate's stages, from Inspect's log stats
    eval_seconds: float = 0.0
    tokens_saved: int = 0  # estimated: the samples left out, at the stages' rate
    seconds_saved: float = 0.0
    promoted: str | None = None  # the alias moved onto the candidate


def gate(
    candidate: CheckpointRef,
    baseline: CheckpointRef,
    config: RunConfig,
    options: GateConfig,
    promote: str | None = None,
    notify: Notify = quiet,
) -> GateResult:
    from eval_orchestrator.preflight import check_plan

    check_plan(config)
    registries = Registries(config.store, notify)
    base, cand = registries.resolve(baseline), registries.resolve(candidate)
    if base.digest == cand.digest:
        raise UserError(f"{cand.version_ref} and {base.version_ref} are the same checkpoint: nothing to compare")
    where = compare_options(config, options)
    have_base = has_every_task(base, config, where)
    if options.sequential:
        check_sequential(config)
        result = sequential_gate(cand, base, have_base, config, options, notify)
    else:
        missing = [side.version_ref for side in (base, cand) if side is cand or not have_base]
        _evaluate(config, missing, notify)
        report = compare(base.version_ref, cand.version_ref, where, config.store, notify)
        result = GateResult(baseline=base.version_ref, candidate=cand.version_ref, gate=report.gate, comparison=report)
    record_gate(registries, cand.version_ref, _evidence(result))
    if promote and result.gate == "passed":
        move_alias(registries, cand.version_ref, promote, f"passed the gate against {base.version_ref}", by="gate")
        notify(f"moved {promote} to {cand.version_ref}")
        result = result.model_copy(update={"promoted": promote})
    return result


def _evidence(result: GateResult) -> GateEvidence:
    held = ", ".join(f"{row.task}/{row.metric} ({row.verdict})" for row in result.comparison.held)
    return GateEvidence(
        outcome=result.gate,
        source="gate",
        reason=f"held on {held}" if held else ("passed" if result.gate == "passed" else "held: no task compared"),
        decided_at=now(),
        baseline=str(result.baseline),
        baseline_digest=result.comparison.baseline.digest,
    )


def compare_options(config: RunConfig, options: GateConfig) -> CompareOptions:
    return CompareOptions(**options.model_dump(), log_dir=config.inspect.log_dir, variant=plan_identity(config).folder)


def check_sequential(config: RunConfig) -> None:
    chosen = [name for name in ("limit", "sample_id") if getattr(config.inspect, name)]
    chosen += [f"tasks[{t.spec}].num_samples" for t in config.tasks if t.num_samples]
    if chosen:
        raise UserError(f"the sequential gate chooses the samples itself; remove {', '.join(chosen)} from the plan")


def has_every_task(version: ResolvedCheckpoint, config: RunConfig, where: CompareOptions) -> bool:
    """Whether ``version`` has a successful log of every task of the plan (in the plan's folder)."""
    from eval_orchestrator.task_loader import load_tasks

    labels = {task_label(loaded.name, loaded.config.args) for loaded in load_tasks(config.tasks)}
    try:
        return labels <= set(find_logs(version, where, []))
    except UserError:  # no logs at all
        return False


def _evaluate(config: RunConfig, refs: list[CheckpointRef], notify: Notify, sample_ids: list[str] | None = None) -> str:
    """Run the plan on ``refs`` (only ``sample_ids``, when given; no refs: nothing is run); the plan
    folder the logs are in."""
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


def sequential_gate(
    cand: ResolvedCheckpoint,
    base: ResolvedCheckpoint,
    have_base: bool,
    config: RunConfig,
    options: GateConfig,
    notify: Notify,
    evaluate: bool = True,
) -> GateResult:
    """The staged gate (``evaluate=False``: decided from the stages' logs already there, as a
    watcher that resumes after its evals does)."""
    refs = [cand.version_ref] if have_base else [base.version_ref, cand.version_ref]

    def stage(sample_ids: list[str]) -> str:
        return _evaluate(config, refs if evaluate else [], notify, sample_ids)

    where = compare_options(config, options)
    said = notify if evaluate else quiet  # deciding from the logs: the stages were announced when they ran
    staged = run_stages(cand, base, where.variant if have_base else None, config, options, where, stage, said)
    report: ComparisonReport = staged.report
    return GateResult(baseline=base.version_ref, candidate=cand.version_ref, gate=report.gate,
                      comparison=staged.report, decisions=staged.decisions, stages=staged.stages,
                      samples_used=staged.used, samples_total=staged.total,
                      tokens_used=staged.spent.tokens, eval_seconds=staged.spent.seconds,
                      tokens_saved=staged.spent.tokens_saved, seconds_saved=staged.spent.seconds_saved)  # fmt: skip
