"""Load Inspect tasks from their specs ('file.py@task', 'pkg/task') with the run's task args."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eval_orchestrator.errors import UserError
from eval_orchestrator.run_config import TaskConfig


@dataclass(frozen=True)
class LoadedTask:
    config: TaskConfig
    task: Any  # inspect_ai.Task

    @property
    def name(self) -> str:
        return str(self.task.name).rsplit("/", 1)[-1]  # 'pkg/task' -> 'task', as Inspect shows it


def load_tasks(tasks: list[TaskConfig] | tuple[TaskConfig, ...]) -> list[LoadedTask]:
    """Load every task, so a missing task fails before any checkpoint work.

    Each call makes fresh Task objects: ``task_with`` mutates the task it is given.
    """
    from inspect_ai._eval.loader import load_tasks as inspect_load_tasks  # no public loader yet

    loaded: list[LoadedTask] = []
    for task_config in tasks:
        try:
            found = inspect_load_tasks([task_config.spec], task_config.args)
        except Exception as exc:  # Inspect raises several kinds here; all mean the same to the user
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"task {task_config.spec!r} could not be loaded ({reason}); "
                "check the spec ('file.py@task' or 'package/task') and its -T args"
            ) from None
        if not found:
            raise UserError(f"task {task_config.spec!r} not found; check the spec ('file.py@task' or 'package/task')")
        loaded.extend(LoadedTask(task_config, task) for task in found)
    return loaded
