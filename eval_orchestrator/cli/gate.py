"""`eval-orchestrator gate CANDIDATE --config plan.yaml --baseline REF`: evaluate, compare, decide."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import click

from eval_orchestrator.cli.options import GATE_FLAGS, JSON, config_layer, options

if TYPE_CHECKING:
    from eval_orchestrator.gate import GateResult
    from eval_orchestrator.run_config import RunConfig


@click.command()
@click.argument("candidate")
@click.option("--config", "plan_file", required=True, type=click.Path(dir_okay=False), help="The run config (plan).")
@click.option("--baseline", help="The version to beat (default: the plan's watch.baseline alias, e.g. prod).")
@click.option("--sequential", is_flag=True, help="Evaluate in stages; stop at the first look where it is clear.")
@click.option("--looks", type=click.IntRange(1, 50), help="Stages of the sequential design (default 10).")
@click.option("--promote", "alias", help="Move this alias onto the candidate when it passes.")
@options(GATE_FLAGS, (JSON,))
def gate(
    candidate: str,
    plan_file: str,
    baseline: str | None,
    sequential: bool,
    looks: int | None,
    alias: str | None,
    **params: Any,
) -> None:
    """Evaluate CANDIDATE (and the baseline, if its logs are missing), compare, and exit 0 (passed) or 3 (held)."""
    from eval_orchestrator.config import build_config, validated
    from eval_orchestrator.errors import GateFailed, UserError
    from eval_orchestrator.gate import gate as run_gate
    from eval_orchestrator.refs import CheckpointRef
    from eval_orchestrator.watch_config import GateConfig

    cand = CheckpointRef.parse(candidate)
    plan = build_config(plan_file, flags={"checkpoints": [candidate]})  # the gate names the versions itself
    if baseline is None:
        if plan.watch is None or plan.watch.baseline is None:
            raise UserError("no baseline: pass --baseline REF, or set watch.baseline in the plan")
        baseline = f"{candidate.partition(':')[0]}:{plan.watch.baseline}"
    # The plan's watch.gate settings, then the flags: the same gate the watcher applies.
    settings = plan.watch.gate.model_dump(exclude_unset=True) if plan.watch is not None else {}
    settings.update(config_layer(GATE_FLAGS, params))
    if sequential:
        settings["sequential"] = True
    if looks is not None:
        settings["looks"] = looks
    gate_options = validated(GateConfig, settings, "gate options")
    with contextlib.redirect_stdout(sys.stderr):  # Inspect and the tracker print; stdout is ours
        result = run_gate(cand, CheckpointRef.parse(baseline), plan, gate_options, alias,
                          notify=lambda line: click.echo(line, err=True))  # fmt: skip
        if plan.wandb.mode != "disabled":
            click.echo(f"comparison logged to W&B: run {_log_to_wandb(result, plan)}", err=True)
    if params["as_json"]:
        click.echo(result.model_dump_json(indent=2))
    else:
        _print(result)
    if result.gate == "held":
        raise GateFailed(f"{result.candidate} held against {result.baseline}")


def _print(result: GateResult) -> None:
    from eval_orchestrator.cli.compare import print_comparison

    if not result.decisions:
        print_comparison(result.comparison, gated=True)
        return
    from rich.table import Table

    from eval_orchestrator.cli.common import console as make_console

    table = Table(title=f"{result.candidate} vs {result.baseline}: sequential gate")
    for column in ("task", "metric", "stopped at", "samples", "Δ [repeated CI]", "verdict", "gate"):
        table.add_column(column)
    for decision, row in zip(result.decisions, result.comparison.rows, strict=False):
        delta = f"{row.delta:+.3f} [{row.ci[0]:+.3f}, {row.ci[1]:+.3f}]" if row.delta is not None and row.ci else "-"
        table.add_row(decision.task, decision.metric, f"look {decision.look} of {decision.looks}",
                      f"{decision.used} of {decision.total}", delta, decision.verdict, decision.gate)  # fmt: skip
    console = make_console()
    console.print(table)
    share = result.samples_used / result.samples_total if result.samples_total else 0.0
    moved = f"; moved {result.promoted} to the candidate" if result.promoted else ""
    console.print(f"used {result.samples_used} of {result.samples_total} samples per version ({share:.0%}) in "
                  f"{result.stages} stage(s); gate: {result.gate}{moved}", highlight=False)  # fmt: skip
    console.print(f"the candidate's stages: {result.tokens_used} tokens, {result.eval_seconds:.1f} s of eval; the "
                  f"samples left out would have cost about {result.tokens_saved} tokens and "
                  f"{result.seconds_saved:.1f} s more", highlight=False)  # fmt: skip
    for note in result.comparison.notes[1:]:
        console.print(f"note: {note}", highlight=False)


def _log_to_wandb(result: GateResult, plan: RunConfig) -> str:
    """The comparison run and artifact, as `compare` logs them, with where the gate stopped."""
    from eval_orchestrator.comparison.wandb_log import log_comparison
    from eval_orchestrator.job import TrackingSettings

    tracking = TrackingSettings.from_config(plan)
    extra: dict[str, object] = {"gate": result.gate, "gate_sequential": bool(result.decisions),
                                "samples_used": result.samples_used, "samples_total": result.samples_total,
                                "stages": result.stages, "promoted_alias": result.promoted,
                                "tokens_saved": result.tokens_saved, "seconds_saved": result.seconds_saved}  # fmt: skip
    for decision in result.decisions:
        extra[f"stopped_look/{decision.task}/{decision.metric}"] = decision.look
        extra[f"samples_used/{decision.task}/{decision.metric}"] = decision.used
    record = log_comparison(result.comparison, tracking, None, extra)
    return record.run_id
