"""`eval-orchestrator watch --config PLAN.yaml [--once] [--interval S] [--listen HOST:PORT]`."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from eval_orchestrator.watch.ledger import Entry
    from eval_orchestrator.watch.loop import CycleReport


def _notifier(log_format: str) -> Any:
    def notify(line: str) -> None:
        if log_format == "json":
            click.echo(json.dumps({"time": round(time.time(), 3), "message": line}), err=True)
        else:
            click.echo(line, err=True)

    return notify


def _status_table(entries: list[Entry]) -> None:
    from rich.table import Table

    from eval_orchestrator.cli.common import console as make_console

    table = Table(title="eval-orchestrator watch")
    for column in ("version", "digest", "role", "state", "attempts", "why"):
        table.add_column(column)
    for entry in sorted(entries, key=lambda e: (str(e.source), e.number)):
        why = entry.decision.reason if entry.decision else (entry.error or "")
        table.add_row(str(entry.ref), entry.digest[:12], entry.role, entry.state, str(entry.attempts), why[:160])
    make_console(stderr=True).print(table)


@click.command()
@click.option(
    "--config", "-c", "config_file", required=True, type=click.Path(dir_okay=False), help="The plan, with watch:."
)
@click.option("--once", is_flag=True, help="One poll and everything it finds, then exit (for cron).")
@click.option("--interval", type=float, help="Seconds between polls (watch.interval).")
@click.option("--listen", help="Also serve W&B Automation webhooks at HOST:PORT (EVAL_ORCHESTRATOR_WEBHOOK_TOKEN).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="With --once: print the versions it touched as JSON on stdout.")
def watch(
    config_file: str, once: bool, interval: float | None, listen: str | None, log_format: str, as_json: bool
) -> None:
    """Evaluate every new version of the watched collections once, compare it, promote or hold it."""
    import threading

    from eval_orchestrator import env
    from eval_orchestrator.config import build_config
    from eval_orchestrator.errors import UserError
    from eval_orchestrator.watch.loop import Watcher

    if as_json and not once:
        raise UserError("--json goes with --once (a watcher that runs on logs with --log-format json)")
    flags = {"watch": {"interval": interval}} if interval is not None else None
    config = build_config(config_file, flags)
    notify = _notifier(log_format)
    bound, token = None, ""
    if listen:  # checked and bound before the watcher starts: a bad address or a busy port stops it now
        token = env.get("EVAL_ORCHESTRATOR_WEBHOOK_TOKEN") or ""
        if not token:
            raise UserError("--listen needs EVAL_ORCHESTRATOR_WEBHOOK_TOKEN (the W&B webhook's access token) set")
        from eval_orchestrator.watch.webhook import WebhookServer, bind, make_app

        bound = bind(listen)
    try:
        watcher = Watcher(config, notify)
    except BaseException:
        if bound is not None:
            bound.close()
        raise
    server: Any = contextlib.nullcontext()
    wake = threading.Event()
    if listen and bound is not None:
        app = make_app(token, watcher.enqueue, lambda: watcher.ledger.entries(50), wake)
        server = WebhookServer(app, bound)
    with contextlib.redirect_stdout(sys.stderr), server:
        if listen:
            notify(f"listening for W&B webhooks on http://{listen}/webhook")
        while not once:  # until SIGTERM / Ctrl-C (exit 143 / 130)
            started = time.monotonic()
            watcher.cycle()
            wake.wait(max(0.0, watcher.watch.interval - (time.monotonic() - started)))
            wake.clear()
        report = watcher.cycle()
    _finish_once(report, as_json)  # outside the redirect: --json goes to stdout


def entry_json(entry: Entry) -> dict[str, Any]:
    """`watch --once --json`: one object per version touched (the schema is in the README)."""
    decision = entry.decision
    return {
        "ref": str(entry.ref), "version": entry.version, "digest": entry.digest, "role": entry.role,
        "state": entry.state, "attempts": entry.attempts, "error": entry.error,
        "external": str(entry.external) if entry.external else None,
        "decision": decision.model_dump(mode="json", exclude={"comparison"}) if decision else None,
    }  # fmt: skip


def _finish_once(report: CycleReport, as_json: bool = False) -> None:
    from eval_orchestrator.errors import EvalFailed, GateFailed

    touched = report.finished + report.retrying
    if as_json:
        click.echo(json.dumps([entry_json(e) for e in touched], indent=2))
    if touched:
        _status_table(touched)
    else:
        click.echo("nothing new", err=True)
    code = report.exit_code
    if code == 1:
        failed = [str(e.ref) for e in touched if e.state == "failed" or e in report.retrying]
        raise EvalFailed(f"eval failed for {', '.join(failed)}")
    if code == 3:
        held = [str(e.ref) for e in touched if e.state == "held"]
        raise GateFailed(f"held by the gate: {', '.join(held)}")
