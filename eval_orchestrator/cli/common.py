"""What every command shares: one-line errors with their exit codes, -T/-M pairs, store flags."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

from eval_orchestrator.error_text import one_line

TEMPLATE = re.compile(r"\{\w+\}")  # '{path}' and friends (an unknown one is refused later, by name)


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

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Click's usage errors as one `error:` line too (exit 2), instead of usage text and 'Error:'."""
        import sys

        kwargs.pop("standalone_mode", None)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)  # usage errors carry the command they are about
            where = f"`{ctx.command_path} --help`" if ctx is not None else "`--help`"
            click.echo(f"error: {one_line(exc.format_message())} (see {where})", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        from eval_orchestrator import interrupts
        from eval_orchestrator.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, OrchestratorError

        interrupts.install_sigterm_handler()  # `finally` blocks remove checkpoints that are not kept
        try:
            return super().invoke(ctx)
        except OrchestratorError as exc:
            click.echo(f"{exc.label}: {one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # a file-system error none of our checks met first: still one line
            from eval_orchestrator.errors import from_os_error

            error = from_os_error(exc, f"`{ctx.invoked_subcommand or ctx.info_name}`")
            click.echo(f"error: {one_line(str(error))}", err=True)
            ctx.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug of ours: one line, and the traceback only when asked for
            from eval_orchestrator import env
            from eval_orchestrator.errors import EXIT_BUG

            if env.get("EVAL_ORCHESTRATOR_DEBUG"):
                raise
            click.echo(
                f"error: unexpected {type(exc).__name__}: {one_line(str(exc))} (a bug: please report it, with "
                "the traceback EVAL_ORCHESTRATOR_DEBUG=1 prints)",
                err=True,
            )
            ctx.exit(EXIT_BUG)
        except KeyboardInterrupt:
            terminated = interrupts.terminated()
            click.echo("terminated" if terminated else "interrupted", err=True)
            _forget_interrupt_in_string_eval()
            code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
            interrupts.exit_past_orphaned_workers(code)
            ctx.exit(code)


def _forget_interrupt_in_string_eval() -> None:
    # CPython marks a KeyboardInterrupt that ends any string `exec` (dataclasses, pydantic...) as
    # "unhandled" even when it is caught, and under `python -m` then kills itself with SIGINT at
    # exit instead of using our exit code. Each string eval resets that mark first.
    exec("None", {})


class SectionedCommand(click.Command):
    """`--help` with the options in sections (as Inspect's eval options read: tasks and samples,
    model, generation, limits, logs), then ours (W&B, the checkpoint store); unlisted ones last."""

    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: dict[str, tuple[str, str]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and param.name is not None:
                rows[param.name] = record
        placed: set[str] = set()
        for title, names in self.sections:
            records = [rows[name] for name in names if name in rows]
            placed.update(names)
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
        rest = [record for name, record in rows.items() if name not in placed]
        if rest:
            with formatter.section("Other options"):
                formatter.write_dl(rest)


def console(stderr: bool = False) -> Console:
    """A rich console for our tables: the terminal's width on a terminal; elsewhere (CI logs, a pipe)
    as wide as the table needs, so no column is cut to 'baseli…' at 80 characters."""
    from rich.console import Console

    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=1000, soft_wrap=True)
