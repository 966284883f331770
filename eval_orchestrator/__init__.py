"""eval-orchestrator: evaluate registered checkpoints with Inspect AI, track results in W&B.

The library API (the CLI is a thin layer over it)::

    import eval_orchestrator as eo

    config = eo.build_config("configs/quickstart.yaml")
    report = eo.run(config)  # RunReport: plan, outcomes, lineage records
    item = eo.resolve("local-registry/tiny-gpt2:latest")  # Materialized: version + local path

Everything not listed in ``__all__`` is internal and may change. A name here never equals a
submodule's (``import eval_orchestrator.sync`` would replace a function called ``sync``).
Attributes load on first use, so ``import eval_orchestrator`` (and ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from eval_orchestrator.comparison.compare import CompareOptions, compare
    from eval_orchestrator.comparison.model import CollectionReport, ComparisonReport, MetricComparison
    from eval_orchestrator.comparison.report import collection_report
    from eval_orchestrator.config import build_config
    from eval_orchestrator.errors import (
        ConfigError,
        EvalFailed,
        GateFailed,
        OrchestratorError,
        RefError,
        RegistryError,
        SpoolError,
        StoreError,
        Unavailable,
        UserError,
        VerificationFailed,
    )
    from eval_orchestrator.job import Job, TrackingSettings
    from eval_orchestrator.orchestrate import execute, release, resolve, run
    from eval_orchestrator.outcomes import JobOutcome, RunReport
    from eval_orchestrator.plan import Plan, PlannedVersion, build_plan
    from eval_orchestrator.run_config import RunConfig

__all__ = [
    "CollectionReport",
    "CompareOptions",
    "ComparisonReport",
    "ConfigError",
    "EvalFailed",
    "GateFailed",
    "Job",
    "JobOutcome",
    "MetricComparison",
    "OrchestratorError",
    "Plan",
    "PlannedVersion",
    "RefError",
    "RegistryError",
    "RunConfig",
    "RunReport",
    "SpoolError",
    "StoreError",
    "TrackingSettings",
    "Unavailable",
    "UserError",
    "VerificationFailed",
    "__version__",
    "build_config",
    "build_plan",
    "collection_report",
    "compare",
    "execute",
    "release",
    "resolve",
    "run",
]

# Where each public name lives; loaded on first access.
_EXPORTS = {
    **dict.fromkeys(("CompareOptions", "compare"), "comparison.compare"),
    **dict.fromkeys(("ComparisonReport", "MetricComparison"), "comparison.model"),
    "CollectionReport": "comparison.model",
    "collection_report": "comparison.report",
    **dict.fromkeys(("RunConfig", "build_config"), "config"),
    **dict.fromkeys(
        ("ConfigError", "EvalFailed", "GateFailed", "OrchestratorError", "RefError", "RegistryError", "SpoolError"),
        "errors",
    ),
    **dict.fromkeys(("StoreError", "Unavailable", "UserError", "VerificationFailed"), "errors"),
    **dict.fromkeys(("Job", "TrackingSettings"), "job"),
    **dict.fromkeys(("execute", "release", "resolve", "run"), "orchestrate"),
    **dict.fromkeys(("JobOutcome", "RunReport"), "outcomes"),
    **dict.fromkeys(("Plan", "PlannedVersion", "build_plan"), "plan"),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eval_orchestrator' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"eval_orchestrator.{module}"), name)
    globals()[name] = value
    return value
