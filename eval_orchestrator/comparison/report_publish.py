"""Make a W&B Report of a comparison or a collection: its spec from what we measured, then saved at
once when W&B is online and answers, else spooled for ``sync`` (which saves each spec once)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from eval_orchestrator.comparison.flips import flip_rows
from eval_orchestrator.comparison.model import CollectionReport, ComparisonReport
from eval_orchestrator.comparison.report_spec import TITLE_CHARS, FlipLine, ReportSpec, comparison_title
from eval_orchestrator.comparison.wandb_report import REPORT_RUN_TYPE
from eval_orchestrator.errors import UserError
from eval_orchestrator.job import TrackingSettings
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.spool import ComparisonRecord, ReportRecord, Spool
from eval_orchestrator.wandb_api import first_line, outage, sdk_settings


class ReportOutcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None  # None: spooled, `sync` saves it
    title: str
    not_saved: str | None = None  # why it was spooled instead

    def describe(self) -> str:
        if self.url:
            return f"W&B Report: {self.url}"
        return f"W&B Report {self.title!r} not saved ({self.not_saved}); `eval-orchestrator sync` saves it"


def _summary_keys(log_path: str | None) -> list[str]:
    """The summary keys the task's eval runs have (``scorer/metric``), from its Inspect log's header."""
    if not log_path:
        return []
    from eval_orchestrator.comparison.scores import read_header

    header = read_header(Path(log_path))
    scores = header.results.scores if header.results else []
    return [f"{score.name}/{metric}" for score in scores for metric in score.metrics]


def comparison_spec(report: ComparisonReport, tracking: TrackingSettings, decision: str | None = None) -> ReportSpec:
    scrub = Scrubber.of(tracking.secrets)  # a sample can echo a declared secret: never into W&B
    flips = [
        FlipLine.model_validate(
            scrub.tree(
                FlipLine(
                    task=f.task,
                    metric=f.metric,
                    direction=f.direction,
                    sample_id=f.sample_id,
                    cluster=f.baseline.cluster or f.candidate.cluster,
                    input=f.baseline.input or f.candidate.input,
                    target=f.baseline.target or f.candidate.target,
                    baseline_answer=f.baseline.answer,
                    baseline_score=f.baseline_score,
                    candidate_answer=f.candidate.answer,
                    candidate_score=f.candidate_score,
                ).model_dump()
            )
        )
        for f in flip_rows(report)
    ]
    run_metrics: dict[str, list[str]] = {}
    log_dirs: dict[str, str] = {}
    for row in report.rows:
        run_metrics.setdefault(row.task, _summary_keys(row.candidate.log or row.baseline.log))
        for side in (row.baseline, row.candidate):
            if side.log and "://" not in side.log:
                log_dirs.setdefault(side.version, str(Path(side.log).parent))
    return ReportSpec(
        kind="comparison",
        entity=tracking.entity,
        project=_project(tracking),
        title=comparison_title(report, decision),
        description=f"{report.candidate.ref} compared with {report.baseline.ref} by eval-orchestrator",
        comparison=report,
        flips=flips,
        run_metrics=run_metrics,
        log_dirs=log_dirs,
        decision=decision,
    )


def collection_spec(result: CollectionReport, tracking: TrackingSettings) -> ReportSpec:
    title = f"{result.collection}: every evaluated version ({', '.join(result.versions)})"
    return ReportSpec(
        kind="collection",
        entity=tracking.entity,
        project=_project(tracking),
        title=title[: TITLE_CHARS - 1] + "…" if len(title) > TITLE_CHARS else title,
        description=f"Each task of {result.collection} across its versions",
        collection=result,
    )


def _project(tracking: TrackingSettings) -> str:
    if tracking.mode == "disabled":
        raise UserError("--wandb-report needs W&B: pass --wandb-project (or set WANDB_PROJECT) and leave W&B enabled")
    return tracking.project


def publish(spec: ReportSpec, tracking: TrackingSettings) -> ReportOutcome:
    """Save the Report now when W&B is online and answers; otherwise spool it for `sync`."""
    spool = Spool(tracking.dir)
    done = {record.spec.key: record.url for record in spool.reports() if record.url}
    if spec.key in done:  # saved before (a watcher resumed after a crash): the same Report, not a second
        return ReportOutcome(url=done[spec.key], title=spec.title)
    why = "offline" if tracking.mode != "online" else outage()
    if why is None:
        from eval_orchestrator.comparison.wandb_report import save

        try:
            url = save(spec)
            spool.record_report(ReportRecord(spec=spec, url=url))
            return ReportOutcome(url=url, title=spec.title)
        except Exception as exc:  # W&B refused or failed mid-save: `sync` saves it later
            why = first_line(exc)[:200]
    spool.record_report(ReportRecord(spec=spec))
    return ReportOutcome(url=None, title=spec.title, not_saved=why)


def log_collection_run(result: CollectionReport, tracking: TrackingSettings) -> ComparisonRecord:
    """The report run the collection Report plots: one history step per version, each task's mean and
    interval as ``task/metric/mean|ci_low|ci_high`` against ``version`` (its number)."""
    import wandb

    mode = tracking.mode if tracking.mode != "online" or not outage() else "offline"
    ident = "|".join(["report", result.collection, *(f"{c.version}:{c.digest}" for c in result.cells)])
    run = wandb.init(
        id=hashlib.sha256(ident.encode()).hexdigest()[:20],
        resume="allow" if mode == "online" else None,
        project=tracking.project,
        entity=tracking.entity,
        mode=mode,
        dir=tracking.dir,
        group=result.collection,
        job_type=REPORT_RUN_TYPE,
        name=f"{result.collection}: across versions",
        config={"report_collection": result.collection, "versions": result.versions, "alpha": result.alpha},
        reinit="create_new",
        settings=sdk_settings(x_disable_meta=True),
    )
    with run:
        for version in result.versions:
            row: dict[str, float] = {"version": float(version.split("-")[0].removeprefix("v"))}
            for cell in (c for c in result.cells if c.version == version):
                key = f"{cell.task}/{cell.metric}"
                row |= {f"{key}/mean": cell.mean, f"{key}/ci_low": cell.ci[0], f"{key}/ci_high": cell.ci[1]}
            run.log(row)
        record = ComparisonRecord(
            run_id=run.id, run_dir=str(Path(run.dir).parent), mode=mode, project=run.project, entity=tracking.entity
        )
    Spool(tracking.dir).record_comparison(record)  # `sync` uploads it when it was logged offline
    return record
