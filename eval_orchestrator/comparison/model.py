"""What a comparison returns: typed, and the same objects ``--json`` prints and W&B receives."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval_orchestrator.comparison.verdict import Verdict
from eval_orchestrator.refs import CheckpointRef


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Side(_Result):
    """One version's scores on one task and metric."""

    ref: CheckpointRef  # pinned to the version, e.g. local-registry/tiny:v1
    version: str
    digest: str
    mean: float | None
    stderr: float | None
    n: int  # samples with a score (errored ones excluded)
    errored: int  # samples left out because every epoch errored
    log: str | None = None  # the Inspect log these scores came from (None: the task has none)


class FlipSet(_Result):
    count: int  # exact
    ids: list[str]  # the largest changes first, at most FLIP_IDS of them


class Flips(_Result):
    """Paired samples whose score changed (after averaging each sample's epochs)."""

    improved: FlipSet
    regressed: FlipSet
    unchanged: int


class MetricComparison(_Result):
    task: str
    metric: str
    baseline: Side
    candidate: Side
    n_paired: int
    n_baseline_only: int  # samples only the baseline has (reported, never silently dropped)
    n_candidate_only: int
    delta: float | None  # mean of candidate - baseline over the paired samples
    delta_stderr: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    p_adjusted: float | None  # Holm, across every row of the comparison
    correlation: float | None
    mde: float | None  # minimum detectable effect at this n (two-sided alpha, 80% power)
    verdict: Verdict  # "not compared": fewer than two paired scored samples, or the task on one side only
    regressed: bool  # worse, or below -margin
    gate: Literal["passed", "held"]  # held when regressed or not compared: the gate fails closed
    method: str
    clusters: int | None = None
    epochs: int = 1
    flips: Flips | None = None  # None when nothing was paired


class VersionRef(_Result):
    ref: CheckpointRef
    version: str
    digest: str


class ComparisonReport(_Result):
    baseline: VersionRef
    candidate: VersionRef
    rows: list[MetricComparison]
    alpha: float
    margin: float | None
    cluster: str | None
    resamples: int
    seed: int
    notes: list[str]  # tasks only one side has, scorers skipped, ...

    @property
    def regressions(self) -> list[MetricComparison]:
        return [row for row in self.rows if row.regressed]

    @property
    def held(self) -> list[MetricComparison]:
        """What a gate holds the candidate on: regressions, and anything it could not compare."""
        return [row for row in self.rows if row.gate == "held"]

    @property
    def gate(self) -> Literal["passed", "held"]:
        return "held" if self.held or not self.rows else "passed"

    @property
    def tasks(self) -> list[str]:
        return sorted({row.task for row in self.rows})


class Cell(_Result):
    """One version x task x metric of ``report COLLECTION``."""

    version: str
    digest: str  # the first 12 hex digits, as the log folder names it
    task: str
    metric: str
    mean: float
    stderr: float | None
    ci: tuple[float, float]  # seeded bootstrap percentile interval (whole clusters when clustered)
    n: int
    errored: int
    best: bool = False  # the highest mean of this task x metric across versions


class Change(_Result):
    """A task x metric that changed detectably from one version to the next (paired, on the samples
    both have)."""

    task: str
    metric: str
    version: str
    previous: str
    delta: float
    ci: tuple[float, float]
    verdict: Verdict  # better | worse


class CollectionReport(_Result):
    collection: str
    versions: list[str]  # in version order
    cells: list[Cell]
    alpha: float
    changes: list[Change] = Field(default_factory=list)  # each version against its predecessor
    report_url: str | None = None  # the W&B Report, when --wandb-report saved one

    def series(self) -> dict[tuple[str, str], list[Cell]]:
        out: dict[tuple[str, str], list[Cell]] = {}
        for cell in self.cells:
            out.setdefault((cell.task, cell.metric), []).append(cell)
        return out
