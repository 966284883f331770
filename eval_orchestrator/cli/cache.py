"""`eval-orchestrator cache ls | verify | prune`: the checkpoint store, seen and tidied from the CLI."""

from __future__ import annotations

import json
import time
from typing import Any

import click


def _store(artifact_dir: str | None) -> Any:
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.store.factory import open_store

    return open_store(build_store_config({"artifact_dir": artifact_dir}))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _age(seconds: float) -> str:
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f}{unit} ago"
    return "just now"


def _row(entry: Any) -> dict[str, Any]:
    return {
        "ref": entry.ref,
        "collection": entry.collection,
        "digest": entry.digest,
        "state": entry.state,
        "files": entry.files,
        "bytes": entry.bytes,
        "last_used": entry.last_used,
        "in_use": entry.in_use,
        "path": str(entry.path),
    }


def _print_entries(entries: list[Any]) -> None:
    # Plain aligned lines rather than a table: refs stay whole in pipes and narrow terminals.
    now = time.time()
    width = max(len(e.ref) for e in entries)
    for e in entries:
        state = e.state + (", in use" if e.in_use else "")
        click.echo(
            f"{e.ref:<{width}}  {e.digest[:12]}  {_size(e.bytes):>10}  {e.files:>5} files  "
            f"used {_age(now - e.last_used):<9}  {state}"
        )


artifact_dir_option = click.option("--artifact-dir", help="Checkpoint store root (WANDB_ARTIFACT_DIR).")


@click.group()
def cache() -> None:
    """The checkpoint store: list, re-verify and prune stored checkpoints."""


@cache.command("ls")
@artifact_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_ls(artifact_dir: str | None, as_json: bool) -> None:
    """List stored checkpoints with their size on disk and last use."""
    from eval_orchestrator.store.cache_admin import list_entries

    store = _store(artifact_dir)
    entries = list_entries(store)
    if as_json:
        click.echo(json.dumps([_row(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"the checkpoint store at {store.root} is empty")
        return
    _print_entries(entries)
    click.echo(f"{len(entries)} entries, {_size(sum(e.bytes for e in entries))} on disk under {store.root}")


@cache.command("verify")
@artifact_dir_option
@click.option("--discard", is_flag=True, help="Remove entries that fail (the next resolve fetches them again).")
def cache_verify(artifact_dir: str | None, discard: bool) -> None:
    """Re-hash every stored file against its manifest digest; exit 1 if any differs."""
    from eval_orchestrator.errors import EvalFailed
    from eval_orchestrator.store import cache_admin

    store = _store(artifact_dir)
    bad = 0
    for entry in cache_admin.list_entries(store):
        if entry.state == "partial":
            continue
        problem = cache_admin.verify(store, entry)
        if problem is None:
            click.echo(f"ok       {entry.ref} ({entry.files} files, {_size(entry.bytes)})")
            continue
        bad += 1
        removed = discard and cache_admin.discard(store, entry)
        click.echo(f"{'removed' if removed else 'BAD':<8} {entry.ref}: {problem}")
    if bad:
        hint = "" if discard else "; `cache verify --discard` removes them"
        raise EvalFailed(f"{bad} stored checkpoint(s) differ from their digests{hint}")


@cache.command("prune")
@artifact_dir_option
@click.option("--older-than", help="Only entries last used longer ago than this: 30m, 12h, 7d, 2w.")
@click.option("--keep-latest", type=click.IntRange(0), help="Keep the N most recently used versions per checkpoint.")
@click.option("--all", "everything", is_flag=True, help="Remove every entry not in use.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed.")
def cache_prune(
    artifact_dir: str | None, older_than: str | None, keep_latest: int | None, everything: bool, dry_run: bool
) -> None:
    """Remove stored checkpoints (never one a running eval uses, nor a download in progress)."""
    from eval_orchestrator.errors import UserError
    from eval_orchestrator.store import cache_admin

    if older_than is None and keep_latest is None and not everything:
        raise UserError("say what to prune: --older-than D, --keep-latest N (both combine), or --all")
    age = cache_admin.parse_duration(older_than) if older_than else None
    store = _store(artifact_dir)
    doomed = cache_admin.prune_candidates(cache_admin.list_entries(store), age, keep_latest)
    freed = 0
    for entry in doomed:
        if dry_run:
            click.echo(f"would remove {entry.ref} ({_size(entry.bytes)})")
            freed += entry.bytes
        elif cache_admin.discard(store, entry):
            click.echo(f"removed {entry.ref} ({_size(entry.bytes)})")
            freed += entry.bytes
        else:
            click.echo(f"skipped {entry.ref}: in use")
    click.echo(f"{'would free' if dry_run else 'freed'} {_size(freed)}")
