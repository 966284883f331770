"""`eval-orchestrator sync`: upload what W&B missed, exactly once."""

from __future__ import annotations

import contextlib
import sys

import click


@click.command("sync")
@click.option(
    "--config", "-c", "config_file", type=click.Path(dir_okay=False), help="The run's YAML config (its wandb.dir)."
)
@click.option("--wandb-dir", help="Where the runs were logged (WANDB_DIR; default: the config's wandb.dir, else .).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON on stdout.")
def sync_command(config_file: str | None, wandb_dir: str | None, as_json: bool) -> None:
    """Upload offline or unfinished runs and replay their lineage, exactly once."""
    from eval_orchestrator.config import build_wandb_config
    from eval_orchestrator.errors import EvalFailed, Unavailable
    from eval_orchestrator.sync import sync

    where = build_wandb_config(config_file, {"dir": wandb_dir}).dir or "."
    with contextlib.redirect_stdout(sys.stderr):
        report = sync(where, notify=lambda line: click.echo(line, err=True))
    if as_json:
        import json
        from dataclasses import asdict

        click.echo(json.dumps(asdict(report), indent=2))
    else:
        click.echo(
            f"uploaded {len(report.runs_uploaded)} run(s), replayed {len(report.lineage_replayed)} lineage link(s), "
            f"{report.already_done} already done"
            + "".join(f"\nsaved W&B Report: {url}" for url in report.reports_saved)
        )
    if report.lost:
        raise EvalFailed(f"{len(report.lost)} step(s) cannot be done: {'; '.join(report.lost + report.failed)}")
    if report.failed:
        raise Unavailable(f"{len(report.failed)} step(s) failed: {'; '.join(report.failed)}; run sync again")
