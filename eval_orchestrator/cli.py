"""The `eval-orchestrator` command line: parse, call the core, map errors to exit codes.

Heavy libraries (inspect_ai, wandb, pydantic) are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

import click

from eval_orchestrator import __version__
from eval_orchestrator.cli_cache import cache
from eval_orchestrator.cli_determined import determined


def _kv_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """Parse -T/-M style key=value pairs; values are YAML scalars (so 3 is an int, true a bool)."""
    import yaml

    from eval_orchestrator.errors import UserError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {pair!r} is not key=value; write e.g. {flag} digits=2")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


class _Group(click.Group):
    """Turns our UserErrors into one line on stderr and their exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from eval_orchestrator import interrupts
        from eval_orchestrator.errors import EvalFailed, UserError

        interrupts.install_sigterm_handler()  # `finally` blocks remove checkpoints that are not kept
        try:
            return super().invoke(ctx)
        except (UserError, EvalFailed) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            terminated = interrupts.terminated()
            click.echo("terminated" if terminated else "interrupted", err=True)
            _forget_interrupt_in_string_eval()
            ctx.exit(143 if terminated else 130)


def _forget_interrupt_in_string_eval() -> None:
    # CPython marks a KeyboardInterrupt that ends any string `exec` (dataclasses, pydantic...) as
    # "unhandled" even when it is caught, and under `python -m` then kills itself with SIGINT at
    # exit instead of using our exit code. Each string eval resets that mark first.
    exec("None", {})


def _store_options(command: Any) -> Any:
    """The checkpoint-store flags shared by `run` and `resolve` (each also an env variable)."""
    options = [
        click.option("--artifact-dir", help="Checkpoint store root (WANDB_ARTIFACT_DIR)."),
        click.option(
            "--skip-cache/--keep-cache",
            "skip_cache",
            default=None,
            help="Do not keep fetched checkpoints after this command (WANDB_CACHE_SKIP).",
        ),
        click.option(
            "--wait-timeout",
            type=float,
            help="Seconds to wait for an upload while only '<alias>-local' exists (WANDB_ARTIFACT_WAIT_TIMEOUT_SEC).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 64),
            help="Parallel transfers: files and ranges of large S3 objects (EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="eval-orchestrator")
def main() -> None:
    """Evaluate registered model checkpoints with Inspect AI and track the results in W&B."""
    from dotenv import find_dotenv, load_dotenv

    # The process environment wins over .env (override=False): one precedence order.
    load_dotenv(find_dotenv(usecwd=True), override=False)
    # A parent process's wandb service (WANDB_SERVICE is inherited) would outlive us if we are
    # killed, keeping our runs "in use" so a resumed plan could not continue them: use our own.
    os.environ.pop("WANDB_SERVICE", None)


@main.command()
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False), help="YAML run config.")
@click.option("--checkpoint", "checkpoints", multiple=True, help="Checkpoint reference (repeatable).")
@click.option("--task", "tasks", multiple=True, help="Inspect task spec, e.g. tasks/demo.py@demo (repeatable).")
@click.option("-T", "task_args", multiple=True, help="Task arg key=value for the --task specs (repeatable).")
@click.option("--limit", type=int, help="Samples per task.")
@click.option("--epochs", type=int, help="Epochs per sample.")
@click.option("--max-samples", type=int, help="Samples in parallel per task.")
@click.option("--max-tasks", type=int, help="Tasks in parallel.")
@click.option("--log-dir", help="Root of the Inspect logs.")
@click.option("--model", "model_name", help="Inspect model spec template, e.g. 'hf/{collection}' or 'vllm/{path}'.")
@click.option("-M", "model_args", multiple=True, help="Model arg key=value (repeatable).")
@click.option("--wandb-project", help="W&B project for the eval runs.")
@click.option("--wandb-entity", help="W&B entity (team or user).")
@click.option("--wandb-mode", type=click.Choice(["auto", "online", "offline", "disabled"]), help="W&B mode.")
@click.option("--link-results", help="Registry collection to link each results artifact into (online).")
@click.option("--hf-upload-repo", help="Hugging Face dataset repo ORG/NAME to commit each job's results to (HF_TOKEN).")
@click.option("--hf-upload-dir", help="Folder in that repo (default: eval-results).")
@_store_options
@click.option(
    "--display",
    type=click.Choice(["full", "conversation", "rich", "plain", "log", "none"]),
    help="Inspect display mode.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
def run(
    config_file: str | None,
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
    as_json: bool,
) -> None:
    """Evaluate checkpoints on Inspect tasks (from --config, flags, or both; flags win)."""
    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_config, flag_tree
    from eval_orchestrator.errors import EvalFailed

    args = _kv_pairs(task_args, "-T")
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
            ("model", "args"): _kv_pairs(model_args, "-M") or None,
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
        from eval_orchestrator.errors import UserError

        raise UserError("-T applies to --task specs; give --task, or put args under tasks[].args in the config")
    config = build_config(config_file, flags)
    # Inspect and wandb print progress on stdout; keep stdout for our table or JSON alone.
    from eval_orchestrator.progress import RichTransferProgress

    with contextlib.redirect_stdout(sys.stderr), RichTransferProgress() as progress:
        report = orchestrate.run(config, notify=lambda line: click.echo(line, err=True), progress=progress)
    if as_json:
        click.echo(json.dumps([_outcome_json(o) for o in report.outcomes], indent=2))
    else:
        _print_report(report)
    if not report.ok:
        problems = [f"{o.job.group}/{o.job.task_name} ({o.status})" for o in report.failed] + report.tracker_errors
        raise EvalFailed(f"{len(problems)} problem(s): " + "; ".join(problems))


def _outcome_json(outcome: Any) -> dict[str, Any]:
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


def _print_report(report: Any) -> None:
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
    mode = report.wandb["mode"]
    console.print(f"W&B runs ({mode}): project {report.wandb['project']}, files under {report.wandb['dir']}/wandb")
    console.print(f"Lineage records: {report.lineage_file}")


@main.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--verify", is_flag=True, help="Re-hash every stored file before use.")
@_store_options
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
    from eval_orchestrator.config import StoreConfig, build_store_config
    from eval_orchestrator.progress import RichTransferProgress

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
    info = {
        "ref": str(resolved.version_ref),
        "version": resolved.version,
        "digest": resolved.digest,
        "aliases": list(resolved.aliases),
        "metadata": dict(resolved.metadata),
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


@main.group()
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
    from eval_orchestrator.orchestrate import local_registry

    resolved = local_registry().add(source, collection, list(aliases), _kv_pairs(metadata, "--metadata"), description)
    click.echo(
        f"added local-registry/{collection}:{resolved.version} "
        f"({len(resolved.manifest.entries)} files, {resolved.manifest.total_bytes} bytes, "
        f"aliases: {', '.join(resolved.aliases)})"
    )


@registry.command("alias")
@click.argument("ref")
@click.argument("alias")
def registry_alias(ref: str, alias: str) -> None:
    """Point ALIAS at the version REF names (moving it if it exists)."""
    from eval_orchestrator.errors import UserError
    from eval_orchestrator.orchestrate import local_registry
    from eval_orchestrator.refs import parse_ref

    parsed = parse_ref(ref)
    if parsed.backend != "local":
        raise UserError(f"{ref!r} is not a local-registry reference; aliases of W&B artifacts move in W&B")
    resolved = local_registry().set_alias(parsed, alias)
    click.echo(f"{alias} -> local-registry/{parsed.collection}:{resolved.version}")


@registry.command("push")
@click.argument("source")
@click.option("--to", "target", required=True, help="W&B reference to push to, e.g. wandb-registry-model/<collection>.")
@click.option("--project", help="W&B project of the upload run for registry targets (default: WANDB_PROJECT).")
def registry_push(source: str, target: str, project: str | None) -> None:
    """Upload local-registry version SOURCE to W&B, with its metadata and aliases."""
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.orchestrate import DEFAULT_PROJECT, local_registry
    from eval_orchestrator.registry.push import push

    result = push(
        local_registry(),
        source,
        target,
        build_store_config(),
        project=project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
        entity=os.environ.get("WANDB_ENTITY"),
    )
    aliases = ", ".join(result.aliases) or "-"
    click.echo(f"pushed {result.source} -> {result.target} (digest {result.digest}, aliases: {aliases})")


@registry.command("ls")
@click.argument("collection", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def registry_ls(collection: str | None, as_json: bool) -> None:
    """List versions, aliases and sizes."""
    from dataclasses import asdict

    from eval_orchestrator.orchestrate import local_registry

    rows = local_registry().list_versions(collection)
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


main.add_command(cache)


@main.command("sync")
@click.option("--wandb-dir", help="Where the runs were logged (WANDB_DIR; default: .).")
def sync_command(wandb_dir: str | None) -> None:
    """Upload offline or unfinished runs and replay their lineage, exactly once."""
    from eval_orchestrator.errors import EvalFailed
    from eval_orchestrator.sync import sync

    where = wandb_dir or os.environ.get("WANDB_DIR") or "."
    with contextlib.redirect_stdout(sys.stderr):
        report = sync(where, notify=lambda line: click.echo(line, err=True))
    click.echo(
        f"uploaded {len(report.runs_uploaded)} run(s), replayed {len(report.lineage_replayed)} lineage link(s), "
        f"{report.already_done} already done"
    )
    if report.failed:
        raise EvalFailed(f"{len(report.failed)} step(s) failed: {'; '.join(report.failed)}; run sync again")


main.add_command(determined)


@main.group()
def config() -> None:
    """Run config helpers."""


@config.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the run config."""
    from eval_orchestrator.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
