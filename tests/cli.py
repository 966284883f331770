"""The CLI, in this process or as its own process.

``invoke`` runs the real command group (its option parsing, error lines and exit codes) in the test
process: what ``python -m eval_orchestrator.cli ARGS`` does, without paying 4-6 s of imports per
call. It restores the environment and the working directory afterwards (the CLI loads ``.env`` into
the environment, as the real process does). ``spawn`` starts the real entry point as a process, for
what only a process shows: signals, kill -9, exit codes of the interpreter, import cost.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

CLI = [sys.executable, "-m", "eval_orchestrator.cli"]


@dataclass(frozen=True)
class Completed:
    """What a finished command left: as ``subprocess.CompletedProcess`` has it."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _isolated(env: Mapping[str, str] | None, cwd: Path | str | None) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        if env is not None:
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def invoke(*args: str, env: Mapping[str, str] | None = None, cwd: Path | str | None = None) -> Completed:
    """Run ``eval-orchestrator ARGS`` in this process; ``env`` is added to the environment for the call."""
    from eval_orchestrator.cli import main

    with _isolated(env, cwd):
        result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        # Escaped the CLI's own handling: shown as the process would show it.
        stderr += "".join(traceback.format_exception(result.exception))
    return Completed(tuple(args), result.exit_code, result.stdout, stderr)


def spawn(*args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> Completed:
    """Run the real entry point as its own process (``env`` added to this process's environment)."""
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    return Completed(tuple(args), done.returncode, done.stdout, done.stderr)
