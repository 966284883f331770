"""Inspect entry point (``[project.entry-points.inspect_ai]``): registers our hooks in an Inspect process
that runs our evals without our code having imported them (INSPECT_REQUIRED_HOOKS names them). A plain
`inspect eval` in the same environment gets none: no "hooks enabled" line for hooks that do nothing."""

from eval_orchestrator import env

if any(name.startswith("eval_orchestrator") for name in env.required_hooks()):
    from eval_orchestrator import audit as audit
    from eval_orchestrator.tracking import hook as hook
