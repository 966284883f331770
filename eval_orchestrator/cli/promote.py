"""`eval-orchestrator promote REF --alias prod --reason TEXT [--override]`: an audited alias move."""

from __future__ import annotations

import click


@click.command()
@click.argument("ref")
@click.option("--alias", required=True, help="The alias to move onto REF's version (e.g. prod).")
@click.option("--reason", required=True, help="Why: kept in the version's trail with who, when and the evidence.")
@click.option("--override", is_flag=True, help="Move it although the version's last gate held it (recorded).")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded move as JSON.")
def promote(ref: str, alias: str, reason: str, override: bool, as_json: bool) -> None:
    """Move ALIAS onto the version REF names, recording who, when, why, from which version and on what
    evidence; refused (exit 3) when the version's last gate held it, unless --override."""
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.refs import CheckpointRef
    from eval_orchestrator.registry.factory import Registries
    from eval_orchestrator.trail import move_alias

    parsed = CheckpointRef.parse(ref)
    move = move_alias(Registries(build_store_config()), parsed, alias, reason, by="promote", override=override)
    if as_json:
        click.echo(move.model_dump_json(indent=2))
        return
    came_from = f" (from {move.previous})" if move.previous else ""
    flagged = " as an OVERRIDE of the gate's hold" if move.override else ""
    click.echo(f"{alias} -> {move.collection}:{move.version}{came_from}, by {move.who}{flagged}")
