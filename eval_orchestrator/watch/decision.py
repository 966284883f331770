"""What the watcher decided about a version, and why: kept in the ledger, shown by `watch`, and written
into W&B (the comparison run and the version's results artifacts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from eval_orchestrator.comparison.model import ComparisonReport
from eval_orchestrator.refs import CheckpointRef


class Decision(BaseModel):
    """Why a version was promoted, held, recorded as the baseline, or failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Literal["promoted", "held", "baseline", "failed"]
    reason: str
    version: str
    digest: str
    baseline: CheckpointRef | None = None  # the baseline's pinned ref
    baseline_digest: str | None = None
    promoted_alias: str | None = None
    comparison: ComparisonReport | None = None
    report_url: str | None = None  # the W&B Report of the comparison (watch.report)
