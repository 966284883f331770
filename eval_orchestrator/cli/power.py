"""`eval-orchestrator power --baseline REF --mde D`: plan the samples before spending them."""

from __future__ import annotations

import json
from typing import Any

import click

from eval_orchestrator.cli.options import GATE_FLAGS, JSON, config_layer, options

# --resamples and --seed are the bootstrap's, --margin the gate's: a power calculation uses neither.
POWER_FLAGS = tuple(flag for flag in GATE_FLAGS if flag.name not in ("resamples", "seed", "margin"))


@click.command()
@click.option("--baseline", required=True, help="The version whose logs give the scores' spread.")
@click.option("--candidate", help="A version evaluated on the same samples: the spread of the paired differences.")
@click.option("--mde", type=float, required=True, help="The difference to detect, in the metric's units (0.02).")
@click.option("--power", "target", type=click.FloatRange(0.5, 0.999), default=0.8, show_default=True,
              help="The chance of detecting a true difference of --mde.")  # fmt: skip
@click.option("--config", "plan_file", type=click.Path(dir_okay=False), help="The run config that wrote the logs.")
@click.option("--log-dir", help="The Inspect log root `run` wrote under (default: the --config's, else ./logs).")
@options(POWER_FLAGS, (JSON,))
def power(
    baseline: str, candidate: str | None, mde: float, target: float, plan_file: str | None, log_dir: str | None,
    **params: Any,
) -> None:  # fmt: skip
    """How many samples each task needs to detect a difference of --mde, and whether it has them."""
    from eval_orchestrator.comparison.compare import CompareOptions
    from eval_orchestrator.comparison.power import power as plan_power
    from eval_orchestrator.config import validated
    from eval_orchestrator.refs import CheckpointRef

    variant = ""
    if plan_file:
        from eval_orchestrator.config import build_config
        from eval_orchestrator.plan import plan_identity

        plan = build_config(plan_file)
        variant, log_dir = plan_identity(plan).folder, log_dir or plan.inspect.log_dir
    settings = {**config_layer(POWER_FLAGS, params), "log_dir": log_dir or "logs", "variant": variant}
    compare_options = validated(CompareOptions, settings, "power options")
    rows = plan_power(
        CheckpointRef.parse(baseline), mde, compare_options, target,
        CheckpointRef.parse(candidate) if candidate else None, notify=lambda line: click.echo(line, err=True),
    )  # fmt: skip
    if params["as_json"]:
        click.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    from rich.table import Table

    from eval_orchestrator.cli.common import console as make_console

    table = Table(title=f"samples to detect {mde:g} at alpha {compare_options.alpha:g}, power {target:g}")
    for column in ("task", "metric", "sd of Δ", "design effect", "needed", "dataset", "MDE at full size"):
        table.add_column(column)
    for row in rows:
        needed = f"{row.needed}" if row.enough else f"[red]{row.needed}[/]"
        table.add_row(row.task, row.metric, f"{row.sd:.3f}", f"{row.design_effect:.2f}", needed, str(row.dataset),
                      f"{row.mde_at_full:.3f}")  # fmt: skip
    console = make_console()
    console.print(table)
    for source in dict.fromkeys(row.source for row in rows):
        console.print(f"sd from {source}", highlight=False)
