"""Inspect entry point (``[project.entry-points.inspect_ai]``): registers our hook in any Inspect process."""

from eval_orchestrator import tracking as tracking
