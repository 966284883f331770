"""What every command shares: one-line errors with their exit codes, -T/-M pairs, store flags."""

from __future__ import annotations

import re
from typing import Any

import click

TEMPLATE = re.compile(r"\{(path|collection|version|digest)\}")


def kv_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """Parse -T/-M style key=value pairs; values are YAML scalars (so 3 is an int, true a bool)."""
    import yaml

    from eval_orchestrator.errors import UserError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {pair!r} is not key=value; write e.g. {flag} digits=2")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        # '{path}' is a template of ours, not a YAML mapping: a value that is one stays a string.
        out[key.strip()] = value if isinstance(parsed, dict | list) and TEMPLATE.search(value) else parsed
    return out


class ErrorsAsExitCodes(click.Group):
    """Turns our errors into one line on stderr and their exit code (errors.py), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from eval_orchestrator import interrupts
        from eval_orchestrator.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, OrchestratorError

        interrupts.install_sigterm_handler()  # `finally` blocks remove checkpoints that are not kept
        try:
            return super().invoke(ctx)
        except OrchestratorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            terminated = interrupts.terminated()
            click.echo("terminated" if terminated else "interrupted", err=True)
            _forget_interrupt_in_string_eval()
            ctx.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


def _forget_interrupt_in_string_eval() -> None:
    # CPython marks a KeyboardInterrupt that ends any string `exec` (dataclasses, pydantic...) as
    # "unhandled" even when it is caught, and under `python -m` then kills itself with SIGINT at
    # exit instead of using our exit code. Each string eval resets that mark first.
    exec("None", {})


def store_options(command: Any) -> Any:
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
