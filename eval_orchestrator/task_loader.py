"""Load Inspect tasks from their specs ('file.py@task', 'pkg/task') with the run's task args."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eval_orchestrator import inspect_api
from eval_orchestrator.error_text import error_text
from eval_orchestrator.errors import UserError
from eval_orchestrator.run_config import TaskConfig

if TYPE_CHECKING:
    from inspect_ai import Task


@dataclass(frozen=True)
class LoadedTask:
    config: TaskConfig
    task: Task

    @property
    def name(self) -> str:
        return str(self.task.name).rsplit("/", 1)[-1]  # 'pkg/task' -> 'task', as Inspect shows it


def load_tasks(tasks: list[TaskConfig] | tuple[TaskConfig, ...]) -> list[LoadedTask]:
    """Load every task, so a missing task fails before any checkpoint work.

    Each call makes fresh Task objects: ``task_with`` mutates the task it is given.
    """
    loaded: list[LoadedTask] = []
    for task_config in tasks:
        spec = _inspect_spec(task_config.spec)
        try:
            found = inspect_api.load_tasks(spec, task_config.args)
        except Exception as exc:  # Inspect raises several kinds here: its own text, whole, on one line
            # A file that fails to import reads as "Task named 'x' not found" when addressed as file.py@x.
            why = _import_problem(task_config.spec) or error_text(exc)
            raise UserError(f"task {task_config.spec!r} could not be loaded: {why}") from None
        if not found:
            raise UserError(f"task {task_config.spec!r} did not load: {_why_not_found(task_config.spec)}")
        for task in found:
            _check_args(task_config, task)
        loaded.extend(LoadedTask(task_config, task) for task in found)
    return loaded


def _check_args(task_config: TaskConfig, task: Task) -> None:
    """A -T the task does not take would change nothing (Inspect only warns): refused, naming what it takes."""
    params = inspect_api.task_parameters(task)
    unknown = sorted(set(task_config.args) - set(params)) if params is not None else []
    if unknown:
        takes = ", ".join(params or []) or "no arguments"
        raise UserError(
            f"task {task_config.spec!r} takes no argument {unknown[0]!r} (-T {unknown[0]}=...); it takes: {takes}"
        )


def _inspect_spec(spec: str) -> str:
    """Inspect takes an absolute 'file.py@task' but not an absolute 'file.py' (a glob): made relative."""
    file, at, _ = spec.partition("@")
    if not at and file.endswith(".py") and os.path.isabs(file):
        return os.path.relpath(file)
    return spec


def _why_not_found(spec: str) -> str:
    """Inspect skips a task file that fails to import; say why, in the file's own words."""
    file, _, name = spec.partition("@")
    if not file.endswith(".py"):
        return "no installed package registers it; check the name (`inspect list tasks`) or install the package"
    if not Path(file).is_file():
        return f"{file} does not exist (relative to {Path.cwd()})"
    if problem := _import_problem(spec):
        return problem
    where = f"no @task named {name!r} in {file}" if name else f"no @task in {file}"
    return where + "; check the spec ('file.py@task' or 'package/task')"


def _import_problem(spec: str) -> str | None:
    """Why the task file ``spec`` names cannot be imported (its SyntaxError, or what it raised), or None."""
    file = spec.partition("@")[0]
    path = Path(file)
    if not file.endswith(".py") or not path.is_file():
        return None
    try:
        source = path.read_text(encoding="utf-8")
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        return f"{file} line {exc.lineno}: SyntaxError: {exc.msg}"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{file} cannot be read: {error_text(exc)}"
    module = importlib.util.spec_from_file_location(f"_eval_orchestrator_probe_{path.stem}", path)
    try:
        assert module is not None and module.loader is not None
        module.loader.exec_module(importlib.util.module_from_spec(module))
    except Exception as exc:  # the import error Inspect swallowed: the user's to fix
        return f"{file} failed to import: {type(exc).__name__}: {error_text(exc)}"
    return None
