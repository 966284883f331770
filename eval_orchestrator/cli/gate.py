"""`eval-orchestrator gate CANDIDATE --config plan.yaml --baseline REF`: evaluate, compare, decide."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import click

from eval_orchestrator.cli.options import GATE_FLAGS, JSON, config_layer, options

if TYPE_CHECKING:
    from eval_orchestrator.gate import GateResult


@click.command()
@click.argument("candidate")
@click.option("--config", "plan_file", required=True, type=click.Path(dir_okay=False), help="The run config (plan).")
@click.option("--baseline", help="The version to beat (default: the plan's watch.baseline alias, e.g. prod).")
@click.option("--sequential", is_flag=True, help="Evaluate in stages; stop at the first look where it is clear.")
@click.option("--looks", type=click.IntRange(1, 50), default=10, show_default=True, help="Stages (sequential).")
@click.option("--promote", "alias", help="Move this alias onto the candidate when it passes.")
@options(GATE_FLAGS, (JSON,))
def gate(
    candidate: str, plan_file: str, baseline: str | None, sequential: bool, looks: int, alias: str | None, **params: Any
) -> None:
    """Evaluate CANDIDATE (and the baseline, if its logs are missing), compare, and exit 0 (passed) or 3 (held)."""
    from eval_orchestrator.config import build_config, validated
    from eval_orchestrator.errors import GateFailed, UserError
    from eval_orchestrator.gate import GateOptions
    from eval_orchestrator.gate import gate as run_gate
    from eval_orchestrator.refs import CheckpointRef

    cand = CheckpointRef.parse(candidate)
    plan = build_config(plan_file, flags={"checkpoints": [candidate]})  # the gate names the versions itself
    if baseline is None:
        if plan.watch is None or plan.watch.baseline is None:
            raise UserError("no baseline: pass --baseline REF, or set watch.baseline in the plan")
        baseline = f"{candidate.partition(':')[0]}:{plan.watch.baseline}"
    settings = {**config_layer(GATE_FLAGS, params), "sequential": sequential, "looks": looks}
    gate_options = validated(GateOptions, settings, "gate options")
    with contextlib.redirect_stdout(sys.stderr):  # Inspect and the tracker print; stdout is ours
        result = run_gate(cand, CheckpointRef.parse(baseline), plan, gate_options, alias,
                          notify=lambda line: click.echo(line, err=True))  # fmt: skip
    if params["as_json"]:
        click.echo(result.model_dump_json(indent=2))
    else:
        _print(result)
    if result.gate == "held":
        raise GateFailed(f"{result.candidate} held against {result.baseline}")


def _print(result: GateResult) -> None:
    from eval_orchestrator.cli.compare import print_comparison

    if result.comparison is not None:
        print_comparison(result.comparison, gated=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.candidate} vs {result.baseline}: sequential gate")
    for column in ("task", "metric", "stopped at", "samples", "Δ [repeated CI]", "verdict", "gate"):
        table.add_column(column)
    for row in result.decisions:
        delta = f"{row.delta:+.3f} [{row.ci[0]:+.3f}, {row.ci[1]:+.3f}]" if row.delta is not None and row.ci else "-"
        table.add_row(row.task, row.metric, f"look {row.look} of {row.looks}", f"{row.used} of {row.total}", delta,
                      row.verdict, row.gate)  # fmt: skip
    console = Console()
    console.print(table)
    share = result.samples_used / result.samples_total if result.samples_total else 0.0
    moved = f"; moved {result.promoted} to the candidate" if result.promoted else ""
    console.print(f"used {result.samples_used} of {result.samples_total} samples per version ({share:.0%}) in "
                  f"{result.stages} stage(s); gate: {result.gate}{moved}", highlight=False)  # fmt: skip
