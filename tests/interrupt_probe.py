"""Run as `python -m tests.interrupt_probe COMMAND`: our CLI group with extra commands that are
stopped at the awkward moments a real SIGTERM or preemption can hit. The moments are forced
(the process signals itself from inside them), so the tests in test_cli are deterministic.

- interrupted-in-exec: a KeyboardInterrupt ending a string `exec` (dataclasses, pydantic...).
- sigterm-inside-import: SIGTERM while torch's `__init__` is still importing its submodules.
- sigterm-inside-del: SIGTERM while a finalizer (`__del__`) runs.
- preempt-inside-import: a Determined preemption while torch's `__init__` is importing.
Each import probe reports on stderr whether torch ended up fully imported.
- raise NAME: raises eval_orchestrator.errors.NAME, to check the group's exit code for each class
  (GateFailed has no command of its own yet)."""

from __future__ import annotations

import importlib.abc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import click

import eval_orchestrator.cli as cli
from eval_orchestrator import interrupts
from eval_orchestrator.det.trial import PreemptionWatcher

MIDWAY = "torch.nn"  # imported by torch/__init__ long before it finishes


class _WhenImporting(importlib.abc.MetaPathFinder):
    """Runs `action` once, when the import system looks for `module`; finds nothing itself."""

    def __init__(self, module: str, action: Callable[[], None]) -> None:
        self.module, self.action, self.done = module, action, False

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        if name == self.module and not self.done:
            self.done = True
            self.action()
        return None


def _import_torch_then_wait(action: Callable[[], None]) -> None:
    sys.meta_path.insert(0, _WhenImporting(MIDWAY, action))
    try:
        import torch  # noqa: F401

        time.sleep(30)  # the stop request should land here, once the import is over
    finally:
        torch_module = sys.modules.get("torch")
        click.echo(f"torch fully imported: {hasattr(torch_module, 'nn')}", err=True)


@cli.main.command("raise")
@click.argument("name")
def raise_error(name: str) -> None:
    from eval_orchestrator import errors

    raise getattr(errors, name)(f"{name} raised by the probe")


@cli.main.command("interrupted-in-exec")
def interrupted_in_exec() -> None:
    interrupts._terminated = True  # what our SIGTERM handler records before it raises
    exec("raise KeyboardInterrupt", {})


@cli.main.command("sigterm-inside-import")
def sigterm_inside_import() -> None:
    _import_torch_then_wait(lambda: os.kill(os.getpid(), signal.SIGTERM))


class _SignalsWhenCollected:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)


@cli.main.command("sigterm-inside-del")
def sigterm_inside_del() -> None:
    _SignalsWhenCollected()  # collected at once: __del__ runs here
    time.sleep(3)  # the stop request should land here
    click.echo("ran to the end", err=True)


@cli.main.command("preempt-inside-import")
def preempt_inside_import() -> None:
    preempt = threading.Event()
    with PreemptionWatcher(preempt.is_set, interval=0.01) as watcher:

        def preempt_and_wait() -> None:
            preempt.set()
            watcher.preempted.wait(5)
            time.sleep(0.2)  # the watcher tries to interrupt while the import is still going

        _import_torch_then_wait(preempt_and_wait)


if __name__ == "__main__":
    cli.main()
