"""A comparison in W&B: a run (``job_type="compare"``, grouped with the candidate) with the table,
the forest plot and a summary of deltas, and an ``eval-comparison`` artifact that uses both
versions' results artifacts, so lineage reads baseline results + candidate results -> comparison.

Offline (or when W&B lacks the results artifacts yet), the run is logged offline and the uses are
spooled; ``sync`` uploads the run and replays them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval_orchestrator.comparison.model import ComparisonReport
from eval_orchestrator.job import TrackingSettings
from eval_orchestrator.publish import results_ref
from eval_orchestrator.scrub import Scrubber
from eval_orchestrator.spool import ComparisonRecord, DecisionNote, Spool
from eval_orchestrator.wandb_api import first_line, outage, sdk_settings

log = logging.getLogger(__name__)

COMPARISON_TYPE = "eval-comparison"
TABLE_COLUMNS = (
    "task",
    "metric",
    "baseline_mean",
    "candidate_mean",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "n_paired",
    "n_baseline_only",
    "n_candidate_only",
    "verdict",
    "gate",
)
FLIP_COLUMNS = (
    "task",
    "metric",
    "direction",
    "sample_id",
    "cluster",
    "input",
    "target",
    "baseline_answer",
    "baseline_score",
    "candidate_answer",
    "candidate_score",
)


def _collection(report: ComparisonReport) -> str:
    return report.candidate.ref.collection


def comparison_run_id(report: ComparisonReport) -> str:
    """The same two versions compared on the same tasks log to one run, however often it is run."""
    ident = "|".join(["compare", report.baseline.digest, report.candidate.digest, *report.tasks])
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def uses(report: ComparisonReport) -> list[str]:
    """The results artifacts the comparison read: each task's, of both versions."""
    collection = _collection(report)
    return [
        results_ref(collection, task, side.version)
        for task in report.tasks
        for side in (report.baseline, report.candidate)
    ]


def summary(report: ComparisonReport) -> dict[str, Any]:
    out: dict[str, Any] = {"regressions": len(report.regressions), "rows": len(report.rows), "gate": report.gate}
    for row in report.rows:
        key = f"{row.task}/{row.metric}"
        out[f"delta/{key}"] = row.delta
        out[f"ci_low/{key}"] = row.ci[0] if row.ci else None
        out[f"ci_high/{key}"] = row.ci[1] if row.ci else None
        out[f"verdict/{key}"] = row.verdict
        out[f"gate/{key}"] = row.gate
        if row.flips is not None:
            out[f"improved/{key}"] = row.flips.improved.count
            out[f"regressed/{key}"] = row.flips.regressed.count
    return out


def flips_table(report: ComparisonReport, scrub: Scrubber) -> Any:
    """The listed flips side by side, regressions first (read from both versions' Inspect logs; a
    declared secret a sample echoed is scrubbed)."""
    import wandb

    from eval_orchestrator.comparison.flips import flip_rows

    data = [
        [
            flip.task,
            flip.metric,
            flip.direction,
            flip.sample_id,
            flip.baseline.cluster or flip.candidate.cluster,
            flip.baseline.input or flip.candidate.input,
            flip.baseline.target or flip.candidate.target,
            flip.baseline.answer,
            flip.baseline_score,
            flip.candidate.answer,
            flip.candidate_score,
        ]
        for flip in flip_rows(report)
    ]
    return wandb.Table(columns=list(FLIP_COLUMNS), data=scrub.tree(data))


def _table(report: ComparisonReport) -> Any:
    import wandb

    data = [
        [
            row.task,
            row.metric,
            row.baseline.mean,
            row.candidate.mean,
            row.delta,
            *(row.ci or (None, None)),
            row.p_value,
            row.p_adjusted,
            row.n_paired,
            row.n_baseline_only,
            row.n_candidate_only,
            row.verdict,
            row.gate,
        ]
        for row in report.rows
    ]
    return wandb.Table(columns=list(TABLE_COLUMNS), data=data)


def log_comparison(
    report: ComparisonReport,
    tracking: TrackingSettings,
    plot: Path | None,
    extra: Mapping[str, Any] | None = None,
    note: DecisionNote | None = None,
) -> ComparisonRecord:
    """Log the comparison run and artifact; returns the spool record (what `sync` still has to do).

    ``extra`` (e.g. the watcher's decision) goes into the run summary and the artifact metadata;
    ``note`` (the decision in full) into the metadata of the candidate's results artifacts."""
    import wandb

    mode = tracking.mode
    if mode == "online" and (why := outage()):
        log.warning("W&B unreachable (%s); logging the comparison offline", why)
        mode = "offline"
    collection = _collection(report)
    run = wandb.init(
        id=comparison_run_id(report),
        resume="allow" if mode == "online" else None,
        project=tracking.project,
        entity=tracking.entity,
        mode=mode,
        dir=tracking.dir,
        group=f"{collection}:{report.candidate.version}",
        job_type="compare",
        name=f"{collection}:{report.candidate.version} vs {report.baseline.version}",
        tags=sorted({collection, report.candidate.version, "compare", *tracking.tags}),
        config={
            "baseline_ref": str(report.baseline.ref),
            "baseline_version": report.baseline.version,
            "baseline_digest": report.baseline.digest,
            "candidate_ref": str(report.candidate.ref),
            "candidate_version": report.candidate.version,
            "candidate_digest": report.candidate.digest,
            "tasks": report.tasks,
            "alpha": report.alpha,
            "margin": report.margin,
            "cluster": report.cluster,
            "resamples": report.resamples,
            "seed": report.seed,
        },
        reinit="create_new",
        settings=sdk_settings(x_disable_meta=True),
    )
    with run:
        row: dict[str, Any] = {
            "comparison": _table(report),
            "flips": flips_table(report, Scrubber.of(tracking.secrets)),
        }
        if plot is not None:
            row["forest_plot"] = wandb.Image(str(plot))
        run.log(row)
        run.summary.update({**summary(report), **(extra or {})})
        data = Spool(tracking.dir).comparison_dir(run.id) / "comparison.json"
        data.write_text(report.model_dump_json(indent=2))
        artifact = wandb.Artifact(
            f"{collection}-comparison",
            type=COMPARISON_TYPE,
            description=f"{report.candidate.ref} compared with {report.baseline.ref}",
            metadata={
                "baseline": report.baseline.model_dump(mode="json"),
                "candidate": report.candidate.model_dump(mode="json"),
                **{k: v for k, v in summary(report).items() if v is not None},
                **(extra or {}),
            },
        )
        artifact.add_file(str(data), name="comparison.json")
        if plot is not None:
            artifact.add_file(str(plot), name="forest_plot.png")
        pending = uses(report)
        if mode == "online":
            pending = [ref for ref in pending if not _use(run, ref)]
        run.log_artifact(artifact, aliases=[f"{report.baseline.version}-vs-{report.candidate.version}"])
        notes: list[str] = []
        if note is not None:
            note = note.model_copy(update={"comparison_run": run.id})
            notes = [results_ref(collection, task, report.candidate.version) for task in report.tasks]
            if mode == "online":
                notes = [ref for ref in notes if not _note(f"{run.entity}/{run.project}/{ref}", note)]
        record = ComparisonRecord(
            run_id=run.id,
            run_dir=str(Path(run.dir).parent),
            mode=mode,
            project=run.project,
            entity=tracking.entity,
            uses_pending=pending,
            decision=note,
            notes_pending=notes,
        )
    Spool(tracking.dir).record_comparison(record)
    return record


def _note(ref: str, note: DecisionNote) -> bool:
    """Add the decision to a results artifact's metadata; False (for `sync` to retry) when W&B failed."""
    from eval_orchestrator.publish import add_decision
    from eval_orchestrator.wandb_api import open_api

    try:
        add_decision(open_api(), ref, note)
        return True
    except Exception as exc:  # not in W&B yet, or W&B failed: `sync` retries from the spool
        log.warning("decision: %s not updated (%s); `eval-orchestrator sync` adds it later", ref, first_line(exc))
        return False


def _use(run: Any, ref: str) -> bool:
    """Record that the comparison read ``ref``; False (for `sync` to retry) when W&B lacks it yet."""
    try:
        run.use_artifact(ref)
        return True
    except Exception as exc:  # the job's results were logged offline and are not synced yet
        log.warning(
            "comparison: %s is not in W&B yet (%s); `eval-orchestrator sync` records it later", ref, first_line(exc)
        )
        return False
