"""The run config's ``executor:`` section: where a plan's evals run (here, or on a Ray cluster)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from eval_orchestrator.strict import StrictModel


class ExecutorConfig(StrictModel):
    """``executor: {kind: ray, ...}`` (or ``run --executor ray``): each unit of the plan is a Ray task."""

    kind: Literal["local", "ray"] = Field(default="local", description="local: here, one version after another; "
                                          "ray: every unit a Ray task on a cluster.")  # fmt: skip
    address: str | None = Field(
        default=None,
        description="Ray cluster address (--ray-address); else RAY_ADDRESS; else a local Ray instance started for "
        "the run on 127.0.0.1 and stopped after it.",
    )
    split: Literal["version", "task"] = Field(
        default="version",
        description="version: one unit per checkpoint version (its model loaded once for all its tasks); task: one "
        "unit per version x task, through Inspect's eval-set selection protocol, into the version's one log dir.",
    )
    num_cpus: float = Field(default=1, ge=0, le=1024, description="CPUs a unit asks Ray for.")
    num_gpus: float = Field(default=0, ge=0, le=64, description="GPUs a unit asks Ray for (an hf/ or vllm/ model).")
    memory: int | None = Field(default=None, ge=0, description="Bytes of memory a unit reserves.")
    resources: dict[str, float] = Field(default_factory=dict, description="Custom Ray resources a unit needs.")
    runtime_env: dict[str, Any] = Field(
        default_factory=dict,
        description="Ray runtime_env for the units (pip, working_dir, env_vars), for workers without the package. "
        "Declared secrets are added to its env_vars, never to the task's arguments.",
    )
    max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts of a unit whose worker died.")
    dashboard: bool = Field(
        default=False,
        description="Start the Ray dashboard with the local instance (on 127.0.0.1 only; it runs any code it is "
        "sent, so it stays off unless asked for).",
    )
