"""`eval-orchestrator run` and `resolve`: evaluate a plan, or materialise one checkpoint."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from eval_orchestrator.cli.common import SectionedCommand, kv_pairs
from eval_orchestrator.cli.options import (
    EXECUTOR_FLAGS,
    JSON,
    PUBLISH_FLAGS,
    RUN_FLAGS,
    STORE_FLAGS,
    WANDB_FLAGS,
    config_layer,
    options,
    sections,
)

if TYPE_CHECKING:
    from eval_orchestrator.outcomes import JobOutcome, RunReport
    from eval_orchestrator.run_config import RunConfig


RUN = (*RUN_FLAGS, *WANDB_FLAGS, *PUBLISH_FLAGS, *STORE_FLAGS, *EXECUTOR_FLAGS)


class RunHelp(SectionedCommand):
    sections = sections(RUN)


@click.command(cls=RunHelp)
@options(RUN)
def run(**params: Any) -> None:
    """Evaluate checkpoints on Inspect tasks (from --config, flags, or both; flags win)."""
    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_config
    from eval_orchestrator.errors import EvalFailed, UserError

    flags = config_layer(RUN, params)
    task_args = kv_pairs(params["task_args"], "-T")
    if params["tasks"]:
        flags["tasks"] = [{"spec": spec, "args": task_args} for spec in params["tasks"]]
    elif task_args:
        raise UserError("-T applies to --task specs; give --task, or put args under tasks[].args in the config")
    pins = None
    if params["lock_file"]:
        from eval_orchestrator.lockfile import locked_config, pins_of, read_lock

        if params["config_file"] or params["checkpoints"] or params["tasks"]:
            raise UserError("--locked runs the lockfile's plan: give no --config, --checkpoint or --task with it")
        locked = read_lock(params["lock_file"])
        base = locked_config(locked, notify=lambda line: click.echo(line, err=True))
        config = build_config(None, flags, base=base.model_dump(mode="json", exclude_unset=True))
        pins = pins_of(locked)
    else:
        config = build_config(params["config_file"], flags)
    config = with_model_args(config, params["model_args"])
    config = with_secrets(config, params["secrets"])
    # Inspect and wandb print progress on stdout; keep stdout for our table or JSON alone.
    from eval_orchestrator.progress import RichTransferProgress

    with contextlib.redirect_stdout(sys.stderr), RichTransferProgress() as progress:
        report = orchestrate.run(config, notify=lambda line: click.echo(line, err=True), progress=progress, pins=pins)
    if params["as_json"]:
        click.echo(json.dumps([_outcome_json(o) for o in report.outcomes], indent=2))
    else:
        _print_report(report)
    report.raise_if_disk_full()
    if not report.ok:
        problems = [f"{o.job.label} ({o.status}{': ' + o.error[:300] if o.error else ''})" for o in report.failed]
        problems += report.tracker_errors
        raise EvalFailed(f"{len(problems)} problem(s): " + "; ".join(problems))


def with_secrets(config: RunConfig, names: tuple[str, ...]) -> RunConfig:
    """--secret NAME adds to the config's secrets (declared by name only; the value stays in the env)."""
    if not names:
        return config
    declared = [s.model_dump() for s in config.secrets]
    known = {s["name"] for s in declared}
    return _revalidated(config, secrets=declared + [{"name": name} for name in names if name not in known])


def with_model_args(config: RunConfig, pairs: tuple[str, ...]) -> RunConfig:
    """As in `inspect eval`, -M adds to the model args (the config's, or the defaults)."""
    if not pairs:
        return config
    merged = {**config.model.args, **kv_pairs(pairs, "-M")}
    return _revalidated(config, model={**config.model.model_dump(exclude_unset=True), "args": merged})


def _revalidated(config: RunConfig, **sections: Any) -> RunConfig:
    """The config with ``sections`` replaced, validated again (so -M api_key=... is refused like a file's)."""
    from eval_orchestrator.config import validated
    from eval_orchestrator.run_config import RunConfig

    return validated(RunConfig, {**config.model_dump(exclude_unset=True), **sections}, "run config")


def _outcome_json(outcome: JobOutcome) -> dict[str, Any]:
    return {
        "checkpoint": outcome.job.collection,
        "version": outcome.job.version,
        "ref": str(outcome.job.ref),
        "task": outcome.job.task_name,
        "task_args": outcome.job.task_args,
        "status": outcome.status,
        "metrics": outcome.metrics,
        "log": outcome.log_path,
        "job_key": outcome.job.key,
        "node_id": outcome.node_id,  # the Ray node it ran on (None when it ran here)
    }


def _print_report(report: RunReport) -> None:
    from rich.table import Table

    from eval_orchestrator.cli.common import console as make_console

    table = Table(title="eval-orchestrator results")
    for column in ("checkpoint", "version", "task", "metric", "value", "status"):
        table.add_column(column)
    for outcome in report.outcomes:
        metric, value = outcome.headline or ("-", None)
        shown = f"{value:.3f}" if isinstance(value, float) else "-"
        table.add_row(outcome.job.collection, outcome.job.version, outcome.job.task_name, metric, shown, outcome.status)
    console = make_console()
    console.print(table)
    console.print(f"Inspect logs: {', '.join(str(d) for d in report.log_dirs)}")
    tracking = report.tracking
    console.print(f"W&B runs ({tracking.mode}): project {tracking.project}, files under {tracking.dir}/wandb")
    console.print(f"Lineage records: {report.lineage_file}")


@click.command()
@click.argument("ref")
@click.option("--verify", is_flag=True, help="Re-hash every stored file before use.")
@options(STORE_FLAGS, (JSON,))
def resolve(ref: str, verify: bool, **params: Any) -> None:
    """Resolve REF to one version and materialise it in the checkpoint store."""
    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.progress import RichTransferProgress
    from eval_orchestrator.refs import CheckpointRef

    store = build_store_config({**config_layer(STORE_FLAGS, params).get("store", {}), "verify": verify or None})
    with RichTransferProgress() as progress:
        item = orchestrate.resolve(
            CheckpointRef.parse(ref), store, progress, notify=lambda line: click.echo(line, err=True)
        )
    removed = bool(orchestrate.release([item], store))
    resolved = item.resolved
    from eval_orchestrator.redact import redact

    info = {
        "ref": str(resolved.version_ref),
        "version": resolved.version,
        "digest": resolved.digest,
        "aliases": list(resolved.aliases),
        "metadata": redact(dict(resolved.metadata)),
        "path": str(item.path),
        "files": len(resolved.manifest.entries),
        "bytes": resolved.manifest.total_bytes,
        "bytes_copied": item.bytes_copied,
        "in_place": bool(resolved.in_place),
        "kept": not removed,
    }
    if params["as_json"]:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    if resolved.in_place:
        copied = "used in place, nothing copied"
    elif item.bytes_copied:
        copied = f"copied {item.bytes_copied} bytes"
    else:
        copied = "already in the store, nothing copied"
    if removed:
        copied += "; verified and removed again (cache skip)"
    click.echo(f"{ref} -> {info['ref']} (digest {resolved.digest}, aliases: {', '.join(resolved.aliases) or '-'})")
    click.echo(f"{info['files']} files, {info['bytes']} bytes at {item.path} ({copied})")
