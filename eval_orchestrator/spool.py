"""The one owner of ``<WANDB_DIR>/wandb/eval-orchestrator/``: what the tracker leaves for ``sync``.

Layout::

    lineage.jsonl                              a LineageRecord per job attempt, in every mode
    synced.jsonl                               the sync ledger: a LedgerEntry per step done
    pending/<run id>-<attempt>-history.jsonl   a HistoryRow per row an online run logged
    pending/<run id>-<attempt>-samples.json    the per-sample table, while W&B lacks it
    comparisons.jsonl                          a ComparisonRecord per comparison logged
    comparisons/<run id>/                      what a comparison's artifact holds
    reports.jsonl                              a ReportRecord per W&B Report made (spec, and URL once saved)
    environment-<sha>.txt                      the installed packages (name==version), once per plan

Lineage (model version -> eval run -> results) cannot be written to W&B offline
(``use_artifact`` raises there), so every job appends a record here, beside W&B's own run
folders; ``sync`` replays it. Every record is validated when read back: one written by another
version of eval-orchestrator is a one-line error naming the file, not a KeyError in ``sync``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock
from pydantic import Field, TypeAdapter, ValidationError

from eval_orchestrator.comparison.report_spec import ReportSpec
from eval_orchestrator.errors import SpoolError
from eval_orchestrator.job import FrozenContract, Job, WandbRunMode, read_contract
from eval_orchestrator.jsonl import NotJsonLines, append_jsonl, read_jsonl
from eval_orchestrator.refs import CheckpointRef

SPOOL_DIR = "eval-orchestrator"
LINEAGE_FILE = "lineage.jsonl"
LEDGER_FILE = "synced.jsonl"
COMPARISONS_FILE = "comparisons.jsonl"
REPORTS_FILE = "reports.jsonl"
ENVIRONMENT_FILE = "environment-{}.txt"


@functools.cache  # read once per process
def installed_packages() -> tuple[str, ...]:
    from importlib.metadata import distributions

    found = {(d.metadata["Name"] or "").lower(): d.version for d in distributions() if d.metadata["Name"]}
    return tuple(f"{name}=={version}" for name, version in sorted(found.items()))


PENDING_DIR = "pending"


class JobSummary(FrozenContract):
    """How a job ended: its W&B run summary, and summary.json in its results artifact."""

    status: str  # Inspect's log status ("success", "error", "cancelled", ...)
    metrics: dict[str, float]  # 'scorer/metric' -> value
    samples_total: int
    samples_completed: int
    samples_errored: int
    tokens_total: int
    inspect_log: str | None
    error: str | None

    def run_summary(self) -> dict[str, Any]:
        """Flat keys for the W&B summary: each metric at top level, beside the counts, and the command
        that opens the job's log in Inspect's viewer."""
        out = {**self.metrics, **self.model_dump(exclude={"metrics"})}
        if self.inspect_log:
            import shlex
            from urllib.parse import unquote

            location = unquote(self.inspect_log.removeprefix("file://"))
            folder = location.rsplit("/", 1)[0] if "://" in location else str(Path(location).parent)
            out["inspect_view"] = f"inspect view --log-dir {shlex.quote(folder)}"
        return out


class ResultsFiles(FrozenContract):
    """What a job's results artifact is made of (logged by the tracker, or by ``sync`` later)."""

    log: str  # the Inspect log
    summary: str  # summary.json
    usage: str  # usage.jsonl
    metrics: dict[str, float]
    hub_url: str | None = None
    environment: str | None = None  # the plan's installed packages: requirements.txt in the artifact


class LineageRecord(FrozenContract):
    """One attempt of one job, as the tracker finished it: where its run is and what W&B still lacks."""

    format: Literal[1] = 1
    job_key: str
    attempt: str | None = None  # None in records from before attempts had ids
    run_id: str  # the job's W&B run id
    local_run_id: str  # the id its files were logged under (differs after a fallback)
    run_dir: str
    mode: WandbRunMode
    project: str | None = None
    entity: str | None = None
    model_ref: CheckpointRef
    model_digest: str
    model_used_online: bool = False
    results_artifact: str | None = None  # 'name:alias', when logged in the run
    status: str  # Inspect's log status
    upload_pending: bool = False  # W&B did not take the run's data before the finish timeout
    results_pending: ResultsFiles | None = None
    table_pending: str | None = None  # spooled per-sample table file
    history_pending: str | None = None  # spooled history rows file
    summary_pending: dict[str, Any] | None = None
    job: Job | None = None  # set when sync must log something in the job's name
    link_results: str | None = None
    fallback: str | None = None  # why an online run went offline
    recorded_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def needs_upload(self) -> bool:
        return self.mode == "offline" or self.upload_pending

    @property
    def attempt_id(self) -> str:
        return self.attempt or self.local_run_id


class NoteRow(FrozenContract):
    task: str
    metric: str
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str


class DecisionNote(FrozenContract):
    """The watcher's decision on a version, as it goes into that version's results artifacts' metadata."""

    outcome: str  # promoted | held
    reason: str
    version: str
    digest: str
    baseline: str | None
    baseline_digest: str | None
    promote_alias: str | None
    comparison_run: str | None = None
    report_url: str | None = None
    rows: list[NoteRow] = Field(default_factory=list)


class ComparisonRecord(FrozenContract):
    """A comparison's W&B run, and the results artifacts W&B has not yet recorded it as using
    (or, for a watcher's decision, not yet been given the decision in their metadata)."""

    format: Literal[1] = 1
    run_id: str
    run_dir: str
    mode: WandbRunMode
    project: str | None = None
    entity: str | None = None
    uses_pending: list[str] = Field(default_factory=list)  # 'name:alias' of results artifacts
    decision: DecisionNote | None = None
    notes_pending: list[str] = Field(default_factory=list)  # 'name:alias' still without the decision
    recorded_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class ReportRecord(FrozenContract):
    """A W&B Report: its spec, and its URL once W&B saved it (None: `sync` saves it)."""

    format: Literal[1] = 1
    spec: ReportSpec
    url: str | None = None
    recorded_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class HistoryRow(FrozenContract):
    step: int
    row: dict[str, Any]


class LedgerEntry(FrozenContract):
    key: str


_TABLE = TypeAdapter(list[dict[str, Any]])


def _lines(path: Path) -> list[Any]:
    """The records of one of the spool's JSON Lines files, or one line naming it when it is not one."""
    try:
        return read_jsonl(path)
    except NotJsonLines as exc:
        raise SpoolError(f"{exc}; it was written by another program or damaged: move it aside and run again") from None


def _inside(path: str | None, root: Path, where: str) -> None:
    """A path a record names must lie under ``root``: `sync` uploads what it points at."""
    if path is not None and not Path(path).resolve().is_relative_to(root.resolve()):
        raise SpoolError(f"{where}: a record names {path[:120]!r}, outside {root}; move the file aside and run again")


class SyncLedger:
    """The steps ``sync`` has done, so a second sync does nothing and a killed one continues."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = {read_contract(LedgerEntry, entry, str(path)).key for entry in _lines(path)}

    def add(self, key: str) -> None:
        append_jsonl(self.path, LedgerEntry(key=key).model_dump())
        self.done.add(key)


class Spool:
    def __init__(self, wandb_dir: str | Path) -> None:
        self.wandb_dir = Path(wandb_dir)
        self.root = self.wandb_dir / "wandb" / SPOOL_DIR

    @property
    def lineage_file(self) -> Path:
        return self.root / LINEAGE_FILE

    def _append(self, name: str, record: FrozenContract) -> Path:
        """One record appended to one of the spool's JSON Lines files."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        append_jsonl(path, record.model_dump(mode="json"))
        return path

    def record(self, record: LineageRecord) -> Path:
        return self._append(LINEAGE_FILE, record)

    def records(self) -> list[LineageRecord]:
        where = str(self.lineage_file)
        records = [read_contract(LineageRecord, data, where) for data in _lines(self.lineage_file)]
        for record in records:
            # W&B disabled keeps its run folder in a temporary dir of its own: nothing there is uploaded.
            run_dir = None if record.mode == "disabled" else record.run_dir
            for path in (run_dir, record.history_pending, record.table_pending):
                _inside(path, self.wandb_dir / "wandb", where)
        return records

    def record_comparison(self, record: ComparisonRecord) -> Path:
        return self._append(COMPARISONS_FILE, record)

    def comparisons(self) -> list[ComparisonRecord]:
        path = self.root / COMPARISONS_FILE
        records = [read_contract(ComparisonRecord, data, str(path)) for data in _lines(path)]
        for record in records:
            _inside(record.run_dir, self.wandb_dir / "wandb", str(path))
        return records

    def record_report(self, record: ReportRecord) -> Path:
        return self._append(REPORTS_FILE, record)

    def reports(self) -> list[ReportRecord]:
        path = self.root / REPORTS_FILE
        return [read_contract(ReportRecord, data, str(path)) for data in _lines(path)]

    def record_environment(self) -> Path:
        """The installed packages, written once per plan and added to each results artifact as
        requirements.txt (W&B's own scan, on every wandb.init, cost a third of a job's busy time)."""
        text = "".join(f"{line}\n" for line in installed_packages())
        # Named by its content: a results artifact `sync` logs later gets the same bytes (same digest).
        path = self.root / ENVIRONMENT_FILE.format(hashlib.sha256(text.encode()).hexdigest()[:12])
        if not path.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return path

    def comparison_dir(self, run_id: str) -> Path:
        folder = self.root / "comparisons" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def ledger(self) -> SyncLedger:
        self.root.mkdir(parents=True, exist_ok=True)
        return SyncLedger(self.root / LEDGER_FILE)

    def run_lock(self, run_id: str) -> FileLock:
        """Held by the process that has run ``run_id`` open (released by the OS if it dies)."""
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(str(locks / f"{run_id}.lock"))

    def orphan_offline_runs(self, run_id: str) -> list[Path]:
        """Offline run folders of ``run_id`` that no record names: an attempt that died before it
        finished (its samples are taken over by the next attempt). Call holding ``run_lock(run_id)``."""
        runs = (self.wandb_dir / "wandb").glob(f"offline-run-*-{run_id}")
        found = sorted(folder for folder in runs if folder.is_dir())
        if not found:  # a job's first attempt (the usual case): no need to read every record
            return []
        named = {Path(record.run_dir).resolve() for record in self.records()}
        named |= {Path(record.run_dir).resolve() for record in self.comparisons()}
        return [folder for folder in found if folder.resolve() not in named]

    def scrubbed_copy(self, job_key: str, name: str) -> Path:
        """Where the scrubbed copy of a job's Inspect log is kept for upload: here, not in the log dir,
        where Inspect's eval_set would take it for a newer log of the task and remove the original."""
        folder = self.root / "scrubbed" / job_key
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def job_files(self, job_key: str) -> Path:
        """Where a job's own files (summary.json, usage.jsonl) go when its Inspect log dir is a URL
        (s3://...): on local disk, beside the runs (in a local log dir they sit beside the log)."""
        folder = self.root / "jobs" / job_key
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def pending_file(self, run_id: str, attempt: str, what: str) -> Path:
        """Where one attempt of a job keeps what ``sync`` may have to send W&B for it (folder made)."""
        pending = self.root / PENDING_DIR
        pending.mkdir(parents=True, exist_ok=True)
        return pending / f"{run_id}-{attempt}-{what}"


def append_history(path: Path, step: int, row: dict[str, Any]) -> None:
    append_jsonl(path, HistoryRow(step=step, row=row).model_dump(mode="json"))


def read_history(path: Path) -> list[HistoryRow]:
    return [read_contract(HistoryRow, data, str(path)) for data in _lines(path)]


def write_table(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps(rows, default=str))
    return str(path)


def read_table(path: Path) -> list[dict[str, Any]]:
    try:
        return _TABLE.validate_json(path.read_bytes())
    except RecursionError:
        raise SpoolError(f"{path}: nested too deeply to be a spooled per-sample table; move it aside") from None
    except ValidationError as exc:
        raise SpoolError(f"{path}: not a spooled per-sample table ({exc.errors()[0]['msg']}); move it aside") from None
