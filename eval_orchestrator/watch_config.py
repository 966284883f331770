"""The run config's ``watch:`` section and the gate's statistics options (pydantic; a part of the
config schema beside ``run_config.py``, which imports it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from eval_orchestrator.errors import ConfigError
from eval_orchestrator.refs import WatchTarget, alias_problem, name_problem
from eval_orchestrator.strict import StrictModel


class StatisticsOptions(StrictModel):
    """How two versions are compared: the options `compare`, `watch` and the gate share."""

    alpha: float = Field(default=0.05, gt=0, lt=1, description="1 - the intervals' coverage.")
    margin: float | None = Field(
        default=None,
        ge=0,
        description="Non-inferiority margin: a task passes when its interval's low end is above -margin. Finite, "
        ">= 0, and below the metric's range (1 for accuracies).",
    )
    cluster: str | None = Field(default=None, description="Sample-metadata key to cluster standard errors on.")
    resamples: int = Field(default=10_000, ge=100, le=1_000_000, description="Paired bootstrap resamples.")
    seed: int = Field(default=0, description="Bootstrap seed (same seed, same output).")


class GateConfig(StatisticsOptions):
    """What a new version must show against the baseline to be promoted (the compare options)."""

    tasks: list[str] = Field(default_factory=list, description="Tasks the gate requires (default: every task).")
    sequential: bool = Field(
        default=False,
        description="Evaluate a new version in stages (one seeded sample order shared with the baseline) and stop "
        "at the first look where every task is decided (O'Brien-Fleming alpha spending).",
    )
    looks: int = Field(default=10, ge=1, le=50, description="Stages of the sequential design.")


class DeterminedExecutorConfig(StrictModel):
    """``watch.executor: determined``: each version's plan becomes one grid experiment on the cluster."""

    context: str | None = Field(
        default=None, description="Folder uploaded as the experiment's context (task files named relatively)."
    )
    max_concurrent_trials: int = Field(default=4, ge=1, le=1000)
    slots_per_trial: int = Field(default=1, ge=0, le=1024)
    max_restarts: int = Field(default=2, ge=0, le=100)
    poll_seconds: float = Field(default=10, ge=0.1, le=3600, description="Seconds between experiment polls.")


class WatchConfig(StrictModel):
    """``eval-orchestrator watch``: which collections, from when, against what, and what to move."""

    collections: list[WatchTarget] = Field(
        min_length=1,
        description="Collections to watch: '<ref without alias>' = every new version; "
        "'<ref>:<alias>' = every time that alias moves to a new version.",
    )
    start: Literal["latest", "now", "all"] = Field(
        default="latest",
        description="latest: the newest version at first start, then every newer one; now: only versions "
        "registered after the first start; all: every version.",
    )
    baseline: str | None = Field(default=None, description="Alias (e.g. prod) or vN to compare each version with.")
    gate: GateConfig = Field(default_factory=GateConfig)
    promote: str | None = Field(default=None, description="Alias moved onto a version that passes the gate.")
    allow_first: bool = Field(default=False, description="Promote a version that has no baseline to compare with.")
    report: bool = Field(
        default=False,
        description="Save a W&B Report of each decision's comparison (its URL goes into the decision); "
        "offline, `sync` saves it.",
    )
    max_attempts: int = Field(default=3, ge=1, le=100, description="Eval attempts of a version before it fails.")
    backoff_seconds: float = Field(default=60, ge=0, le=86_400, description="Wait before retrying a failed eval.")
    interval: float = Field(default=60, ge=0.1, le=86_400, description="Seconds between polls.")
    lease_seconds: float = Field(default=600, ge=1, le=86_400, description="How long a claim on a version holds.")
    ledger: str = Field(
        default=".eval-orchestrator/watch.sqlite", description="The SQLite ledger (shared by watchers)."
    )
    executor: Literal["local", "determined", "ray"] = Field(
        default="local",
        description="Where evals run: here, as a Determined experiment per version, or on Ray (the run config's "
        "executor: section says which cluster and how).",
    )
    determined: DeterminedExecutorConfig = Field(default_factory=DeterminedExecutorConfig)

    @field_validator("baseline")
    @classmethod
    def _baseline_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := name_problem(value)):
            raise ConfigError(f"watch.baseline: {problem}")
        return value

    @field_validator("promote")
    @classmethod
    def _promote_alias(cls, value: str | None) -> str | None:
        # A version name would "promote" by renaming nothing: refused before the first poll.
        if value is not None and (problem := alias_problem(value)):
            raise ConfigError(f"watch.promote: {problem}")
        return value
