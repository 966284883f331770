"""Run as `python -m tests.interrupt_probe`: our CLI group with one extra command that is
interrupted (SIGTERM-style) inside a string `exec`, as happens when a signal lands while
dataclasses or pydantic build code. Used by test_cli to check the exit code stays ours."""

from __future__ import annotations

import eval_orchestrator.cli as cli


@cli.main.command("interrupted-in-exec")
def interrupted_in_exec() -> None:
    cli._terminated = True  # what our SIGTERM handler records before it raises
    exec("raise KeyboardInterrupt", {})


if __name__ == "__main__":
    cli.main()
