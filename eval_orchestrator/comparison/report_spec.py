"""What a W&B Report is made from: everything its blocks show, typed, with no network needed to
build it. Online it is saved at once; offline (or when W&B is down) it is spooled as it is, and
``sync`` saves it once. The layout itself lives in ``wandb_report.py``.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval_orchestrator.comparison.model import CollectionReport, ComparisonReport

TITLE_CHARS = 128  # W&B's limit on a Report title


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FlipLine(_Spec):
    """One flipped sample, both versions side by side (the Report's first table)."""

    task: str
    metric: str
    direction: Literal["regressed", "improved"]
    sample_id: str
    cluster: str
    input: str
    target: str
    baseline_answer: str
    baseline_score: float | None
    candidate_answer: str
    candidate_score: float | None


class ReportSpec(_Spec):
    kind: Literal["comparison", "collection"]
    entity: str | None  # None: the API key's default entity
    project: str
    title: str = Field(max_length=TITLE_CHARS)
    description: str = ""
    comparison: ComparisonReport | None = None  # kind "comparison"
    flips: list[FlipLine] = Field(default_factory=list)
    collection: CollectionReport | None = None  # kind "collection"
    run_metrics: dict[str, list[str]] = Field(default_factory=dict)  # task -> its eval runs' summary keys
    log_dirs: dict[str, str] = Field(default_factory=dict)  # version -> where its Inspect logs are
    decision: str | None = None  # a watcher's: promoted | held

    @property
    def key(self) -> str:
        """One Report per spec: a second save of the same content (a retried sync) updates, never adds."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:20]


def comparison_title(report: ComparisonReport, decision: str | None = None) -> str:
    collection = report.candidate.ref.collection
    title = f"{collection}: {report.candidate.version} vs {report.baseline.version}"
    title += f" ({decision})" if decision else ""  # a gate is named only where one decided
    return title[:TITLE_CHARS]
