"""`eval-orchestrator sync`: upload what W&B missed, and replay the lineage, exactly once.

Runs logged offline (no key, or W&B unreachable at start) and runs whose uploads W&B did not take
before ``finish_timeout`` (it went away mid-run) are complete on disk; ``wandb sync`` uploads them,
results artifacts included. Lineage that could not be written then (``use_artifact`` needs W&B)
is replayed on the same run (its id derives from the job key). Every step done is appended to a
ledger beside the lineage spool, so a second ``sync`` does nothing and an interrupted one
continues where it stopped.
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

from eval_orchestrator.errors import UserError
from eval_orchestrator.publish import lineage_spool, read_lineage
from eval_orchestrator.refs import parse_ref

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
        lines = path.read_text().splitlines() if path.exists() else []
        self.done = {json.loads(line)["key"] for line in lines if line.strip().endswith("}")}

    def add(self, key: str) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps({"key": key}) + "\n")
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
    ledger = Ledger(spool / LEDGER)
    report = SyncReport()
    # Each job's latest record wins: a resumed job's earlier attempts are the same run.
    latest = {r["job_key"]: r for r in records}
    for record in latest.values():
        if _needs_upload(record):
            key = f"run:{record['run_id']}:{record['run_dir']}"
            if key in ledger.done:
                report.already_done += 1
            elif _wandb_sync(Path(record["run_dir"]), record, notify):
                ledger.add(key)
                report.runs_uploaded.append(record["run_id"])
            else:
                report.failed.append(f"upload of run {record['run_id']}")
                continue  # its lineage waits for its upload
        use_key = f"use:{record['run_id']}:{record['model_ref']}"
        results_key = f"results:{record['run_id']}:{record.get('local_run_id')}"
        use = _needs_lineage(record) and use_key not in ledger.done
        results = bool(record.get("results_pending")) and results_key not in ledger.done
        report.already_done += (_needs_lineage(record) and not use) + (
            bool(record.get("results_pending")) and not results
        )
        if not (use or results):
            continue
        _replay(record, use, results)
        for key, done in ((use_key, use), (results_key, results)):
            if done:
                ledger.add(key)
                report.lineage_replayed.append(key)
                notify(f"replayed {key}")
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


def _replay(record: dict[str, Any], use_model: bool, log_results: bool) -> None:
    """On the job's own run: record that it used the model, and/or log its spooled results artifact."""
    import wandb

    from eval_orchestrator.plan import Job
    from eval_orchestrator.publish import log_results_artifact
    from eval_orchestrator.registry.wandb_registry import sdk_settings

    run = wandb.init(
        id=record["run_id"],
        resume="allow",
        project=record.get("project"),
        entity=record.get("entity"),
        mode="online",
        reinit="create_new",
        settings=sdk_settings(x_disable_meta=True),
    )
    with run:
        if use_model:
            run.use_artifact(record["model_ref"])
        if log_results:
            spooled = record["results_pending"]
            hub = {"hf_results_url": spooled["hub_url"]} if spooled.get("hub_url") else None
            ref = log_results_artifact(
                run,
                Job.from_metadata(record["job"]),
                Path(spooled["log"]),
                Path(spooled["summary"]),
                spooled["metrics"],
                Path(spooled["usage"]),
                link_to=record.get("link_results"),
                extra_metadata=hub,
            )
            run.summary["results_artifact"] = ref
