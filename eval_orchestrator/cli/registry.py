"""`eval-orchestrator registry add | alias | history | push | ls | repair`: the embedded local registry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from eval_orchestrator import env
from eval_orchestrator.cli.common import kv_pairs

if TYPE_CHECKING:
    from eval_orchestrator.registry.local import LocalRegistry


def _local() -> LocalRegistry:
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.registry.factory import local_registry

    return local_registry(build_store_config())


@click.group()
def registry() -> None:
    """The embedded local registry (local-registry/<collection>:<alias|vN>)."""


@registry.command("add")
@click.argument("source")
@click.option("--name", "collection", required=True, help="Collection to add a version to.")
@click.option("--alias", "aliases", multiple=True, help="Alias to point at the new version (repeatable).")
@click.option("--metadata", "metadata", multiple=True, help="Metadata key=value (repeatable).")
@click.option("--description", help="Description of this version.")
def registry_add(
    source: str, collection: str, aliases: tuple[str, ...], metadata: tuple[str, ...], description: str | None
) -> None:
    """Register SOURCE (a directory, or s3://bucket/prefix by reference) as the next version vN of COLLECTION."""
    from eval_orchestrator.credentials import credential_path
    from eval_orchestrator.errors import UserError
    from eval_orchestrator.redact import is_secret_key

    pairs = kv_pairs(metadata, "--metadata")
    shaped = credential_path({"--metadata": pairs, "--description": description or ""})
    if shaped is not None:
        raise UserError(
            f"{shaped[0]} holds what looks like a {shaped[1]}; registry metadata is copied into every run's W&B "
            "config: keep credentials in the environment (declare them under secrets: in the run config)"
        )
    if secret := next((key for key in pairs if is_secret_key(key)), None):
        raise UserError(
            f"--metadata {secret}=... looks like a secret; registry metadata is copied into every run's W&B config "
            "and summary: keep secrets in the environment (declare them under secrets: in the run config)"
        )
    resolved = _local().add(source, collection, list(aliases), pairs, description)
    click.echo(
        f"added local-registry/{collection}:{resolved.version} "
        f"({len(resolved.manifest.entries)} files, {resolved.manifest.total_bytes} bytes, "
        f"aliases: {', '.join(resolved.aliases)})"
    )


@registry.command("alias")
@click.argument("ref")
@click.argument("alias")
@click.option("--reason", default="set with `registry alias`", show_default=True, help="Why (kept in the trail).")
@click.option("--override", is_flag=True, help="Move it although the version's last gate held it (recorded).")
def registry_alias(ref: str, alias: str, reason: str, override: bool) -> None:
    """Point ALIAS at the version REF names (moving it if it exists); recorded in the trail like `promote`."""
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.errors import UserError
    from eval_orchestrator.refs import parse_ref
    from eval_orchestrator.registry.factory import Registries
    from eval_orchestrator.trail import move_alias

    parsed = parse_ref(ref)
    if parsed.backend != "local":
        raise UserError(f"{ref!r} is not a local-registry reference; move a W&B alias with `promote`")
    move = move_alias(Registries(build_store_config()), parsed, alias, reason, by="promote", override=override)
    click.echo(f"{alias} -> local-registry/{parsed.collection}:{move.version}")


@registry.command("history")
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Print every move with its record as JSON.")
def registry_history(collection: str, as_json: bool) -> None:
    """Every alias move of COLLECTION (a local name, or a W&B collection reference) with who, when, why,
    from which version, and the gate decision it relied on."""
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.refs import CollectionRef
    from eval_orchestrator.registry.factory import Registries
    from eval_orchestrator.trail import history

    where = CollectionRef.parse(collection if "/" in collection else f"local-registry/{collection}")
    moves = history(Registries(build_store_config()), where)
    if as_json:
        click.echo(json.dumps([move.model_dump(mode="json") for move in moves], indent=2))
        return
    if not moves:
        click.echo(f"{where}: no alias move recorded (moves are recorded by `promote`, `registry alias` and `watch`)")
    for move in moves:
        came_from = f" from {move.previous}" if move.previous else ""
        gate = f"; gate {move.evidence.outcome} ({move.evidence.source})" if move.evidence else "; no gate decision"
        override = " OVERRIDE" if move.override else ""
        click.echo(f"{move.when}  {move.alias} -> {move.version}{came_from}  by {move.who} via {move.by}{override}: "
                   f"{move.reason}{gate}")  # fmt: skip


@registry.command("push")
@click.argument("source")
@click.option("--to", "target", required=True, help="W&B reference to push to, e.g. wandb-registry-model/<collection>.")
@click.option("--project", help="W&B project of the upload run for registry targets (default: WANDB_PROJECT).")
def registry_push(source: str, target: str, project: str | None) -> None:
    """Upload local-registry version SOURCE to W&B, with its metadata and aliases."""
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.job import DEFAULT_PROJECT
    from eval_orchestrator.refs import parse_ref
    from eval_orchestrator.registry.push import push

    result = push(
        _local(),
        parse_ref(source),
        parse_ref(target),
        build_store_config(),
        project=project or env.get("WANDB_PROJECT") or DEFAULT_PROJECT,
        entity=env.get("WANDB_ENTITY"),
    )
    aliases = ", ".join(result.aliases) or "-"
    click.echo(f"pushed {result.source} -> {result.target} (digest {result.digest}, aliases: {aliases})")


@registry.command("ls")
@click.argument("collection", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def registry_ls(collection: str | None, as_json: bool) -> None:
    """List versions, aliases and sizes."""
    from dataclasses import asdict

    from eval_orchestrator.refs import CollectionRef

    local = _local()
    rows = local.list_versions(CollectionRef("local", collection)) if collection else local.all_versions()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo(
            "the local registry is empty; add a checkpoint with `eval-orchestrator registry add DIR --name NAME`"
        )
        return
    for row in rows:
        click.echo(
            f"local-registry/{row.collection}:{row.version}  {row.files} files  {row.bytes} bytes  "
            f"aliases: {', '.join(row.aliases) or '-'}  {row.created_at}"
        )


@registry.command("repair")
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def registry_repair(collection: str, as_json: bool) -> None:
    """Make a damaged COLLECTION usable: dead staging folders removed, unreadable versions set aside
    (kept under <collection>/damaged/), the alias table rebuilt if unreadable."""
    from dataclasses import asdict

    from eval_orchestrator.registry.repair import repair

    report = repair(_local(), collection)
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    if not report.changed:
        click.echo(f"{collection}: nothing to repair")
        return
    if report.staging_removed:
        click.echo(f"removed {report.staging_removed} staging folder(s) of interrupted adds")
    for version in report.set_aside:
        click.echo(f"set aside {version} (unreadable) under {collection}/damaged/")
    if report.aliases_rebuilt:
        click.echo("rebuilt aliases.json (it could not be read)")
    if report.aliases_dropped:
        click.echo(f"aliases lost, set them again with `registry alias`: {', '.join(report.aliases_dropped)}")
