"""What a run returns: one ``JobOutcome`` per job, and the ``RunReport`` over them (whatever executor ran them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from eval_orchestrator.errors import disk_full_text
from eval_orchestrator.job import Job, TrackingSettings
from eval_orchestrator.paths import Location
from eval_orchestrator.spool import LineageRecord, Spool

if TYPE_CHECKING:
    from eval_orchestrator.plan import Plan


@dataclass(frozen=True)
class JobOutcome:
    job: Job
    status: str  # Inspect's log status; "missing" when no log came back, "unscored" when no sample had a score
    metrics: dict[str, float]
    log_path: str | None
    error: str | None = None  # Inspect's error message when the eval failed, on one line
    node_id: str | None = None  # the Ray node it ran on (hex), when it ran on Ray

    @property
    def headline(self) -> tuple[str, float] | None:
        return next(iter(self.metrics.items()), None)

    @property
    def disk_full(self) -> bool:
        """The eval stopped because the disk holding its log filled (retry once there is room)."""
        return self.status != "success" and disk_full_text(self.error)


@dataclass
class RunReport:
    tracking: TrackingSettings
    log_dirs: list[Location]  # each version's eval_set log dir (a folder, or a URL)
    outcomes: list[JobOutcome]
    records: list[LineageRecord] = field(default_factory=list)  # the tracker's, one per job attempt
    tracker_errors: list[str] = field(default_factory=list)
    plan: Plan | None = None  # the plan, when it ran here (a remote executor's units each had their own)

    def raise_if_disk_full(self) -> None:
        """A full disk under the log dir is a retry-later (75), not a failed eval: finished samples are reused."""
        from eval_orchestrator.errors import DiskFull

        full = [o for o in self.outcomes if o.disk_full]
        if full:
            where = ", ".join(sorted({str(d) for d in self.log_dirs}))
            raise DiskFull(
                f"the disk holding the Inspect logs ({where}) filled during {len(full)} job(s); free space and run "
                "again: finished samples are reused"
            )

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status != "success"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.tracker_errors

    @property
    def lineage_file(self) -> Path:
        return Spool(self.tracking.dir).lineage_file
