"""`eval-orchestrator run` and `resolve`: evaluate a plan, or materialise one checkpoint."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from eval_orchestrator.cli.common import SectionedCommand, kv_pairs, store_options
from eval_orchestrator.cli.inspect_flags import inspect_options

if TYPE_CHECKING:
    from eval_orchestrator.orchestrate import JobOutcome, RunReport
    from eval_orchestrator.run_config import RunConfig


class RunHelp(SectionedCommand):
    sections = (
        ("Plan", ("config_file", "lock_file", "checkpoints", "secrets")),
        ("Tasks and samples", ("tasks", "task_args", "limit", "inspect_sample_id", "epochs", "inspect_epochs_reducer")),
        ("Model", ("model_name", "model_args", "model_roles")),
        ("Generation", ("inspect_max_tokens", "inspect_temperature", "inspect_top_p", "inspect_seed",
                        "inspect_max_connections", "inspect_timeout")),
        ("Limits and errors", ("inspect_time_limit", "inspect_message_limit", "inspect_token_limit",
                               "inspect_fail_on_error", "max_samples", "max_tasks")),
        ("Logs and display", ("log_dir", "inspect_log_dir_allow_dirty", "display", "as_json")),
        ("W&B and the Hub", ("wandb_project", "wandb_entity", "wandb_mode", "link_results", "hf_upload_repo",
                             "hf_upload_dir")),
        ("Checkpoint store", ("artifact_dir", "skip_cache", "wait_timeout", "workers")),
    )  # fmt: skip


@click.command(cls=RunHelp)
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False), help="YAML run config.")
@click.option(
    "--locked",
    "lock_file",
    type=click.Path(dir_okay=False),
    help="Run a lockfile (`eval-orchestrator lock`): exactly its pinned versions, whatever the aliases say now.",
)
@click.option("--checkpoint", "checkpoints", multiple=True, help="Checkpoint reference (repeatable).")
@click.option("--task", "tasks", multiple=True, help="Inspect task spec, e.g. tasks/demo.py@demo (repeatable).")
@click.option("-T", "task_args", multiple=True, help="Task arg key=value for the --task specs (repeatable).")
@click.option("--limit", type=int, help="Samples per task.")
@click.option("--epochs", type=int, help="Epochs per sample.")
@click.option("--max-samples", type=int, help="Samples in parallel per task.")
@click.option("--max-tasks", type=int, help="Tasks in parallel.")
@click.option("--log-dir", help="Root of the Inspect logs.")
@click.option("--model", "model_name", help="Inspect model spec template, e.g. 'hf/{collection}' or 'vllm/{path}'.")
@click.option("-M", "model_args", multiple=True, help="Model arg key=value, added to the config's (repeatable).")
@click.option("--model-role", "model_roles", multiple=True, help="ROLE=SPEC, e.g. grader=openai/gpt-4o (repeatable).")
@inspect_options
@click.option("--wandb-project", help="W&B project for the eval runs.")
@click.option("--wandb-entity", help="W&B entity (team or user).")
@click.option("--wandb-mode", type=click.Choice(["auto", "online", "offline", "disabled"]), help="W&B mode.")
@click.option("--link-results", help="Registry collection to link each results artifact into (online).")
@click.option("--hf-upload-repo", help="Hugging Face dataset repo ORG/NAME to commit each job's results to (HF_TOKEN).")
@click.option("--hf-upload-dir", help="Folder in that repo (default: eval-results).")
@store_options
@click.option(
    "--display",
    type=click.Choice(["full", "conversation", "rich", "plain", "log", "none"]),
    help="Inspect display mode.",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    help="An environment variable the evals need (repeatable), added to the config's secrets: checked before "
    "any checkpoint work, never written anywhere.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
def run(
    config_file: str | None,
    lock_file: str | None,
    checkpoints: tuple[str, ...],
    tasks: tuple[str, ...],
    task_args: tuple[str, ...],
    limit: int | None,
    epochs: int | None,
    max_samples: int | None,
    max_tasks: int | None,
    log_dir: str | None,
    model_name: str | None,
    model_args: tuple[str, ...],
    model_roles: tuple[str, ...],
    inspect_flags: dict[tuple[str, ...], Any],
    wandb_project: str | None,
    wandb_entity: str | None,
    wandb_mode: str | None,
    link_results: str | None,
    hf_upload_repo: str | None,
    hf_upload_dir: str | None,
    artifact_dir: str | None,
    skip_cache: bool | None,
    wait_timeout: float | None,
    workers: int | None,
    display: str | None,
    secrets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Evaluate checkpoints on Inspect tasks (from --config, flags, or both; flags win)."""
    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_config, flag_tree
    from eval_orchestrator.errors import EvalFailed, UserError

    args = kv_pairs(task_args, "-T")
    flags = flag_tree(
        {
            ("checkpoints",): list(checkpoints) or None,
            ("tasks",): [{"spec": spec, "args": args} for spec in tasks] or None,
            ("inspect", "limit"): limit,
            ("inspect", "epochs"): epochs,
            ("inspect", "max_samples"): max_samples,
            ("inspect", "max_tasks"): max_tasks,
            ("inspect", "log_dir"): log_dir,
            ("inspect", "display"): display,
            ("model", "name"): model_name,
            ("model", "roles"): _roles(model_roles) or None,
            **inspect_flags,
            ("wandb", "project"): wandb_project,
            ("wandb", "entity"): wandb_entity,
            ("wandb", "mode"): wandb_mode,
            ("wandb", "link_results"): link_results,
            ("hub", "upload_repo"): hf_upload_repo,
            ("hub", "upload_dir"): hf_upload_dir,
            ("store", "artifact_dir"): artifact_dir,
            ("store", "cache_skip"): skip_cache,
            ("store", "wait_timeout"): wait_timeout,
            ("store", "workers"): workers,
        }
    )
    if task_args and not tasks:
        raise UserError("-T applies to --task specs; give --task, or put args under tasks[].args in the config")
    pins = None
    if lock_file:
        from eval_orchestrator.lockfile import locked_config, pins_of, read_lock

        if config_file or checkpoints or tasks:
            raise UserError("--locked runs the lockfile's plan: give no --config, --checkpoint or --task with it")
        locked = read_lock(lock_file)
        base = locked_config(locked, notify=lambda line: click.echo(line, err=True))
        config = build_config(None, flags, base=base.model_dump(mode="json", exclude_unset=True))
        pins = pins_of(locked)
    else:
        config = build_config(config_file, flags)
    config = with_model_args(config, model_args)
    config = with_secrets(config, secrets)
    # Inspect and wandb print progress on stdout; keep stdout for our table or JSON alone.
    from eval_orchestrator.progress import RichTransferProgress

    with contextlib.redirect_stdout(sys.stderr), RichTransferProgress() as progress:
        report = orchestrate.run(config, notify=lambda line: click.echo(line, err=True), progress=progress, pins=pins)
    if as_json:
        click.echo(json.dumps([_outcome_json(o) for o in report.outcomes], indent=2))
    else:
        _print_report(report)
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


def _roles(pairs: tuple[str, ...]) -> dict[str, str]:
    from eval_orchestrator.errors import UserError

    roles = {}
    for pair in pairs:
        role, sep, spec = pair.partition("=")
        if not sep or not role or not spec:
            raise UserError(f"--model-role {pair!r} is not ROLE=SPEC; write e.g. --model-role grader=openai/gpt-4o")
        roles[role.strip()] = spec.strip()
    return roles


def with_model_args(config: RunConfig, pairs: tuple[str, ...]) -> RunConfig:
    """As in `inspect eval`, -M adds to the model args (the config's, or the defaults)."""
    if not pairs:
        return config
    merged = {**config.model.args, **kv_pairs(pairs, "-M")}
    return _revalidated(config, model={**config.model.model_dump(exclude_unset=True), "args": merged})


def _revalidated(config: RunConfig, **sections: Any) -> RunConfig:
    """The config with ``sections`` replaced, validated again (so -M api_key=... is refused like a file's)."""
    from pydantic import ValidationError

    from eval_orchestrator.errors import ConfigError
    from eval_orchestrator.run_config import RunConfig

    try:
        return RunConfig.model_validate({**config.model_dump(exclude_unset=True), **sections})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{where}: {first['msg']}") from None


def _outcome_json(outcome: JobOutcome) -> dict[str, Any]:
    return {
        "checkpoint": outcome.job.collection,
        "version": outcome.job.version,
        "ref": outcome.job.ref,
        "task": outcome.job.task_name,
        "task_args": outcome.job.task_args,
        "status": outcome.status,
        "metrics": outcome.metrics,
        "log": outcome.log_path,
        "job_key": outcome.job.key,
    }


def _print_report(report: RunReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="eval-orchestrator results")
    for column in ("checkpoint", "version", "task", "metric", "value", "status"):
        table.add_column(column)
    for outcome in report.outcomes:
        metric, value = outcome.headline or ("-", None)
        shown = f"{value:.3f}" if isinstance(value, float) else "-"
        table.add_row(outcome.job.collection, outcome.job.version, outcome.job.task_name, metric, shown, outcome.status)
    console = Console()
    console.print(table)
    console.print(f"Inspect logs: {', '.join(str(d) for d in report.log_dirs)}")
    tracking = report.tracking
    console.print(f"W&B runs ({tracking.mode}): project {tracking.project}, files under {tracking.dir}/wandb")
    console.print(f"Lineage records: {report.lineage_file}")


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--verify", is_flag=True, help="Re-hash every stored file before use.")
@store_options
def resolve(
    ref: str,
    as_json: bool,
    verify: bool,
    artifact_dir: str | None,
    skip_cache: bool | None,
    wait_timeout: float | None,
    workers: int | None,
) -> None:
    """Resolve REF to one version and materialise it in the checkpoint store."""
    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.progress import RichTransferProgress
    from eval_orchestrator.run_config import StoreConfig

    store: StoreConfig = build_store_config(
        {
            "artifact_dir": artifact_dir,
            "verify": verify or None,
            "cache_skip": skip_cache,
            "wait_timeout": wait_timeout,
            "workers": workers,
        }
    )
    with RichTransferProgress() as progress:
        item = orchestrate.resolve(ref, store, progress, notify=lambda line: click.echo(line, err=True))
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
    if as_json:
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
