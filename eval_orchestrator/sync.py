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

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval_orchestrator.errors import EvalFailed, UserError
from eval_orchestrator.jsonl import append_jsonl, read_jsonl
from eval_orchestrator.publish import lineage_spool, read_lineage
from eval_orchestrator.refs import parse_ref
from eval_orchestrator.registry.wandb_registry import first_line, history_short_of, outage

LEDGER = "synced.jsonl"
Notify = Callable[[str], None]


@dataclass
class SyncReport:
    runs_uploaded: list[str] = field(default_factory=list)
    lineage_replayed: list[str] = field(default_factory=list)
    already_done: int = 0
    failed: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = {entry["key"] for entry in read_jsonl(path)}

    def add(self, key: str) -> None:
        append_jsonl(self.path, {"key": key})
        self.done.add(key)


def _needs_upload(record: dict[str, Any]) -> bool:
    return record.get("mode") == "offline" or bool(record.get("upload_pending"))


def _needs_lineage(record: dict[str, Any]) -> bool:
    return not record.get("model_used_online") and parse_ref(record["model_ref"]).backend == "wandb"


def sync(wandb_dir: str | Path, notify: Notify = lambda _: None) -> SyncReport:
    spool = lineage_spool(wandb_dir)
    records = read_lineage(spool)
    if not records:
        raise UserError(f"nothing to sync: no eval-orchestrator runs recorded under {Path(wandb_dir) / 'wandb'}")
    if not os.environ.get("WANDB_API_KEY"):
        raise UserError("WANDB_API_KEY is not set; sync uploads to W&B, so it needs a key (see .env.example)")
    if why := outage():
        raise EvalFailed(f"W&B is unreachable ({why}); nothing was sent, run sync again once it answers")
    ledger = Ledger(spool / LEDGER)
    report = SyncReport()
    # Each job's latest record wins: a resumed job's earlier attempts are the same run.
    latest = {r["job_key"]: r for r in records}
    for record in latest.values():
        # An online run W&B stopped taking mid-run gets its missing rows re-logged (below); the
        # others are uploaded whole from their files.
        if _needs_upload(record) and not record.get("history_pending"):
            key = f"run:{record['run_id']}:{record['run_dir']}"
            if key in ledger.done:
                report.already_done += 1
            elif _wandb_sync(Path(record["run_dir"]), record, notify):
                ledger.add(key)
                report.runs_uploaded.append(record["run_id"])
            else:
                report.failed.append(f"upload of run {record['run_id']}")
                continue  # its lineage waits for its upload
        # One attempt's spooled steps; records from before attempts had ids use the local run id.
        attempt = record.get("attempt") or record.get("local_run_id")
        steps = {
            f"history:{record['run_id']}:{attempt}": bool(record.get("history_pending")),
            f"use:{record['run_id']}:{record['model_ref']}": _needs_lineage(record),
            f"results:{record['run_id']}:{attempt}": bool(record.get("results_pending")),
            f"table:{record['run_id']}:{attempt}": bool(record.get("table_pending")),
        }
        todo = [key for key, needed in steps.items() if needed and key not in ledger.done]
        report.already_done += sum(needed and key in ledger.done for key, needed in steps.items())
        if not todo:
            continue
        try:
            _replay(record, {key.split(":", 1)[0] for key in todo})
        except Exception as exc:  # W&B failed again: these steps stay to do, for the next sync
            report.failed.append(f"run {record['run_id']}: {type(exc).__name__}: {first_line(exc)}")
            continue
        for key in todo:
            ledger.add(key)
            if key.startswith("history:"):
                report.runs_uploaded.append(record["run_id"])
                notify(f"run {record['run_id']}: uploaded the rows W&B missed, and its summary")
            else:
                report.lineage_replayed.append(key)
                notify(f"replayed {key}")
        # W&B has what the spooled rows and table were kept for, and the ledger says so.
        for spooled in (record.get("history_pending"), record.get("table_pending")):
            if spooled:
                Path(spooled).unlink(missing_ok=True)
    return report


def _wandb_sync(run_dir: Path, record: dict[str, Any], notify: Notify) -> bool:
    if not run_dir.is_dir():
        notify(f"run {record['run_id']}: its files at {run_dir} are gone; cannot upload it")
        return False
    # Our ledger decides what is done; wandb's own "synced" marks could be stale after a crash.
    args = [sys.executable, "-m", "wandb", "sync", str(run_dir), "--include-online", "--include-synced", "--yes"]
    args += ["--id", record["run_id"]]
    args += ["--project", record["project"]] if record.get("project") else []
    args += ["--entity", record["entity"]] if record.get("entity") else []
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    ok = done.returncode == 0 and "ERROR" not in done.stderr
    notify(f"run {record['run_id']}: {'uploaded' if ok else 'upload failed: ' + done.stderr.strip()[-300:]}")
    return ok


def _replay(record: dict[str, Any], steps: set[str]) -> None:
    """On the job's own run: log the history rows W&B lacks and the summary ("history"), record that
    it used the model ("use"), log its spooled per-sample table ("table") and results artifact
    ("results"). Each step is safe to repeat: rows W&B has are skipped, artifacts deduplicate."""
    import wandb

    from eval_orchestrator.plan import Job
    from eval_orchestrator.publish import log_results_artifact
    from eval_orchestrator.registry.wandb_registry import sdk_settings
    from eval_orchestrator.tracking import samples_table

    run = wandb.init(
        id=record["run_id"],
        resume="allow",
        project=record.get("project"),
        entity=record.get("entity"),
        mode="online",
        reinit="create_new",
        settings=sdk_settings(x_disable_meta=True),
    )
    rows = read_jsonl(Path(record["history_pending"])) if "history" in steps else []
    expected = rows[-1]["step"] + 1 if rows else 0  # the history rows W&B must hold afterwards
    with run:
        if "history" in steps:
            # A resumed run starts at the step after the last one W&B holds: re-log from there.
            for entry in rows:
                if entry["step"] >= run.starting_step:
                    run.log(entry["row"], step=entry["step"])
            run.summary.update(record["summary_pending"])
        if "use" in steps:
            run.use_artifact(record["model_ref"])
        if "table" in steps:
            samples = json.loads(Path(record["table_pending"]).read_text())
            # Its own row after the re-logged ones, as in the job (unstepped, it would join the last).
            run.log({"samples": samples_table(samples)}, step=max(expected, run.starting_step) if rows else None)
        if "results" in steps:
            job = Job.from_metadata(record["job"])
            ref = log_results_artifact(run, job, record["results_pending"], record.get("link_results"))
            run.summary["results_artifact"] = ref
    # finish() returns even when the SDK gave up uploading the rows: ask W&B what it holds.
    if rows and (held := history_short_of(run.entity, run.project, run.id, expected)) is not None:
        raise RuntimeError(f"W&B took {held} of the run's {expected} history rows")
