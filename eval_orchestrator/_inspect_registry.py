"""Inspect entry point (``[project.entry-points.inspect_ai]``): registers our hooks in any Inspect process."""

from eval_orchestrator import audit as audit
from eval_orchestrator.tracking import hook as hook
