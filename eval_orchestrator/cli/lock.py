"""`eval-orchestrator lock PLAN.yaml`: pin what a plan resolves to now (see lockfile.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Lockfile to write (default: PLAN with .lock).")
@click.option("--json", "as_json", is_flag=True, help="Print the lockfile as JSON as well.")
def lock(plan: str, output: str | None, as_json: bool) -> None:
    """Pin each checkpoint of PLAN to its version and digest, each task to its source, and the versions
    of inspect-ai, wandb and eval-orchestrator; `run --locked FILE` evaluates exactly that."""
    import yaml

    from eval_orchestrator.config import build_config, read_yaml
    from eval_orchestrator.lockfile import make_lock

    config = build_config(plan)  # the whole plan validated first
    written = make_lock(config, read_yaml(plan), notify=lambda line: click.echo(line, err=True))
    target = Path(output) if output else Path(plan).with_suffix(".lock")
    header = (
        f"# eval-orchestrator lockfile for {Path(plan).name}; run it with: eval-orchestrator run --locked {target}\n"
    )
    target.write_text(header + yaml.safe_dump(written.model_dump(mode="json"), sort_keys=False))
    if as_json:
        click.echo(json.dumps(written.model_dump(mode="json"), indent=2))
        return
    for item in written.checkpoints:
        click.echo(f"{item.ref} -> {item.pinned} ({item.digest[:12]})")
    click.echo(f"wrote {target}")
