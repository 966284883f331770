"""Inspect entry point (``[project.entry-points.inspect_ai]``): registers our hook and tasks."""

from eval_orchestrator import tracking as tracking
from eval_orchestrator.tasks.capitals import capitals as capitals
