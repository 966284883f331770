"""`eval-orchestrator sync`: upload what W&B missed, and replay the lineage, exactly once.

Runs logged offline (no key, or W&B unreachable at start) are complete on disk, and ``wandb sync``
uploads them into the job's run. A run W&B stopped taking mid-run (its finish timed out, or W&B
held fewer rows than it logged) is not re-uploaded that way, which would resend the rows W&B has:
the run is resumed and only the history rows it lacks are re-logged from the tracker's spool, with
the summary. What needed W&B then is replayed on the same run (its id derives from the job key):
``use_artifact``, spooled tables and results artifacts. Every step done is appended to a ledger
beside the lineage spool, so a second ``sync`` does nothing and an interrupted one continues where
it stopped.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval_orchestrator import env
from eval_orchestrator.errors import Unavailable, UserError
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.spool import (
    ComparisonRecord,
    DecisionNote,
    LineageRecord,
    ReportRecord,
    Spool,
    SyncLedger,
    read_history,
    read_table,
)
from eval_orchestrator.wandb_api import first_line, history_short_of, outage


@dataclass
class SyncReport:
    runs_uploaded: list[str] = field(default_factory=list)
    lineage_replayed: list[str] = field(default_factory=list)
    already_done: int = 0
    failed: list[str] = field(default_factory=list)  # W&B failed again: a later sync retries them
    lost: list[str] = field(default_factory=list)  # cannot be done by any sync (the run's files are gone)
    reports_saved: list[str] = field(default_factory=list)  # the URLs of the W&B Reports saved


def _needs_lineage(record: LineageRecord) -> bool:
    return not record.model_used_online and record.model_ref.backend == "wandb"


def sync(wandb_dir: str | Path, notify: Notify = quiet) -> SyncReport:
    spool = Spool(wandb_dir)
    records = spool.records()
    comparisons = spool.comparisons()
    reports = spool.reports()
    if not records and not comparisons and not reports:
        raise UserError(
            f"nothing to sync: no eval-orchestrator runs recorded under {spool.wandb_dir / 'wandb'}; "
            "pass the run's W&B dir (--wandb-dir, WANDB_DIR, or wandb.dir in --config)"
        )
    if not env.get("WANDB_API_KEY"):
        raise UserError("WANDB_API_KEY is not set; sync uploads to W&B, so it needs a key (see .env.example)")
    if why := outage():
        raise Unavailable(f"W&B is unreachable ({why}); nothing was sent, run sync again once it answers")
    ledger = spool.ledger()
    report = SyncReport()
    # Each job's latest record wins: a resumed job's earlier attempts are the same run.
    latest = {r.job_key: r for r in records}
    for record in latest.values():
        # An online run W&B stopped taking mid-run gets its missing rows re-logged (below); the
        # others are uploaded whole from their files.
        if record.needs_upload and not record.history_pending and not _upload(record, "run", ledger, report, notify):
            continue  # its lineage waits for its upload
        # One attempt's spooled steps; records from before attempts had ids use the local run id.
        attempt = record.attempt_id
        steps = {
            f"history:{record.run_id}:{attempt}": bool(record.history_pending),
            f"use:{record.run_id}:{record.model_ref}": _needs_lineage(record),
            f"results:{record.run_id}:{attempt}": bool(record.results_pending),
            f"table:{record.run_id}:{attempt}": bool(record.table_pending),
        }
        todo = [key for key, needed in steps.items() if needed and key not in ledger.done]
        report.already_done += sum(needed and key in ledger.done for key, needed in steps.items())
        if not todo:
            continue
        try:
            _replay(record, {key.split(":", 1)[0] for key in todo})
        except Exception as exc:  # W&B failed again: these steps stay to do, for the next sync
            report.failed.append(f"run {record.run_id}: {type(exc).__name__}: {first_line(exc)}")
            continue
        for key in todo:
            ledger.add(key)
            if key.startswith("history:"):
                report.runs_uploaded.append(record.run_id)
                notify(f"run {record.run_id}: uploaded the rows W&B missed, and its summary")
            else:
                report.lineage_replayed.append(key)
                notify(f"replayed {key}")
        # W&B has what the spooled rows and table were kept for, and the ledger says so.
        for spooled in (record.history_pending, record.table_pending):
            if spooled:
                Path(spooled).unlink(missing_ok=True)
    # Comparisons after the jobs: the results artifacts they read are in W&B by now.
    for comparison in {c.run_id: c for c in comparisons}.values():
        _sync_comparison(comparison, ledger, report, notify)
    # Reports last: their run sets and panels read the runs uploaded above.
    _sync_reports(reports, ledger, report, notify)
    return report


def _sync_reports(records: list[ReportRecord], ledger: SyncLedger, report: SyncReport, notify: Notify) -> None:
    """Save each spooled Report spec once (one saved online already, or by an earlier sync, is done)."""
    saved = {record.spec.key for record in records if record.url}
    for record in {r.spec.key: r for r in records if r.url is None}.values():
        step = f"report:{record.spec.key}"
        if record.spec.key in saved or step in ledger.done:
            report.already_done += 1
            continue
        from eval_orchestrator.comparison.wandb_report import save

        try:
            url = save(record.spec)
        except Exception as exc:  # W&B refused or failed: the next sync tries again
            report.failed.append(f"W&B Report {record.spec.title!r}: {type(exc).__name__}: {first_line(exc)}")
            continue
        ledger.add(step)
        report.reports_saved.append(url)
        notify(f"saved the W&B Report {record.spec.title!r}: {url}")


def _sync_comparison(record: ComparisonRecord, ledger: SyncLedger, report: SyncReport, notify: Notify) -> None:
    """Upload an offline comparison run, record the results artifacts it used, and give the
    candidate's results artifacts the watcher's decision."""
    if record.mode == "offline" and not _upload(record, "comparison run", ledger, report, notify):
        return
    steps = [f"use:{record.run_id}:{ref}" for ref in record.uses_pending]
    steps += [f"note:{record.run_id}:{ref}" for ref in record.notes_pending]
    todo = [step for step in steps if step not in ledger.done]
    report.already_done += len(steps) - len(todo)
    if not todo:
        return
    try:
        uses = [step.split(":", 2)[2] for step in todo if step.startswith("use:")]
        if uses:
            _use_artifacts(record, uses)
        notes = [step.split(":", 2)[2] for step in todo if step.startswith("note:")]
        if notes and record.decision is not None:
            _add_decisions(record, record.decision, notes)
    except Exception as exc:  # W&B failed again, or lacks a results artifact yet: the next sync retries
        report.failed.append(f"comparison run {record.run_id}: {type(exc).__name__}: {first_line(exc)}")
        return
    for step in todo:
        ledger.add(step)
        report.lineage_replayed.append(step)
        ref = step.split(":", 2)[2]
        what = "recorded that it used" if step.startswith("use:") else "put the watch decision into"
        notify(f"comparison run {record.run_id}: {what} {ref}")


def _add_decisions(record: ComparisonRecord, note: DecisionNote, refs: list[str]) -> None:
    from eval_orchestrator.publish import add_decision
    from eval_orchestrator.wandb_api import open_api

    api = open_api()
    prefix = "/".join(part for part in (record.entity, record.project) if part)
    for ref in refs:
        add_decision(api, f"{prefix}/{ref}" if prefix else ref, note)


def _use_artifacts(record: ComparisonRecord, refs: list[str]) -> None:
    with _resume(record) as run:
        for ref in refs:
            run.use_artifact(ref)


def _resume(record: LineageRecord | ComparisonRecord) -> Any:
    """The record's own W&B run, resumed online to add what it missed."""
    import wandb

    from eval_orchestrator.wandb_api import sdk_settings

    return wandb.init(
        id=record.run_id,
        resume="allow",
        project=record.project,
        entity=record.entity,
        mode="online",
        reinit="create_new",
        settings=sdk_settings(x_disable_meta=True),
    )


def _upload(
    record: LineageRecord | ComparisonRecord, what: str, ledger: SyncLedger, report: SyncReport, notify: Notify
) -> bool:
    """Upload a run logged offline from its files, once; False when it could not be (yet)."""
    key = f"run:{record.run_id}:{record.run_dir}"
    if key in ledger.done:
        report.already_done += 1
        return True
    if not Path(record.run_dir).is_dir():
        notify(f"{what} {record.run_id}: its files at {record.run_dir} are gone; cannot upload it")
        report.lost.append(f"upload of {what} {record.run_id} (its files are gone)")
        return False
    if not _wandb_sync(Path(record.run_dir), record.run_id, record.project, record.entity, notify):
        report.failed.append(f"upload of {what} {record.run_id}")
        return False
    ledger.add(key)
    report.runs_uploaded.append(record.run_id)
    return True


def _wandb_sync(run_dir: Path, run_id: str, project: str | None, entity: str | None, notify: Notify) -> bool:
    # Our ledger decides what is done; wandb's own "synced" marks could be stale after a crash.
    args = [sys.executable, "-m", "wandb", "sync", str(run_dir), "--include-online", "--include-synced", "--yes"]
    args += ["--id", run_id]
    args += ["--project", project] if project else []
    args += ["--entity", entity] if entity else []
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    ok = done.returncode == 0 and "ERROR" not in done.stderr
    notify(f"run {run_id}: {'uploaded' if ok else 'upload failed: ' + done.stderr.strip()[-300:]}")
    return ok


def _replay(record: LineageRecord, steps: set[str]) -> None:
    """On the job's own run: log the history rows W&B lacks and the summary ("history"), record that
    it used the model ("use"), log its spooled per-sample table ("table") and results artifact
    ("results"). Each step is safe to repeat: rows W&B has are skipped, artifacts deduplicate."""
    from eval_orchestrator.publish import log_results_artifact
    from eval_orchestrator.tracking.rows import samples_table

    run = _resume(record)
    rows = read_history(Path(record.history_pending)) if "history" in steps and record.history_pending else []
    expected = rows[-1].step + 1 if rows else 0  # the history rows W&B must hold afterwards
    with run:
        if "history" in steps:
            # A resumed run starts at the step after the last one W&B holds: re-log from there.
            for entry in rows:
                if entry.step >= run.starting_step:
                    run.log(entry.row, step=entry.step)
            run.summary.update(record.summary_pending or {})
        if "use" in steps:
            run.use_artifact(str(record.model_ref))
        if "table" in steps and record.table_pending:
            samples = read_table(Path(record.table_pending))
            # Its own row after the re-logged ones, as in the job (unstepped, it would join the last).
            run.log({"samples": samples_table(samples)}, step=max(expected, run.starting_step) if rows else None)
        if "results" in steps and record.results_pending and record.job:
            ref = log_results_artifact(run, record.job, record.results_pending, record.link_results)
            run.summary["results_artifact"] = ref
    # finish() returns even when the SDK gave up uploading the rows: ask W&B what it holds.
    if rows and (held := history_short_of(run.entity, run.project, run.id, expected)) is not None:
        raise RuntimeError(f"W&B took {held} of the run's {expected} history rows")
