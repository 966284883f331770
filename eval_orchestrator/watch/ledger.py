"""The watch ledger: one SQLite row per (watched collection, version digest, plan), so each version is
evaluated once per plan, whatever crashes in between.

States: discovered -> evaluating -> evaluated -> compared -> logged (the decision in W&B) -> promoted |
held | failed, or
``baseline`` for the version others are compared with. A watcher claims a row with a lease before
working on it (in one ``BEGIN IMMEDIATE`` transaction, so two watchers never claim the same row);
a claim whose lease ran out, or whose owner on this host is dead (``kill -9``), can be taken over,
and the work resumes at the row's state: eval_set reuses finished samples, W&B runs continue by
job key, and nothing is promoted twice.

Rows are read back through ``Entry`` (typed: the refs, the decision, the external run), so a row
another program or another version wrote is one line naming the ledger, never a crash later.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from eval_orchestrator.checkpoint import VersionId
from eval_orchestrator.errors import RefError, UserError
from eval_orchestrator.refs import Backend, CheckpointRef, CollectionRef
from eval_orchestrator.watch.decision import Decision

State = Literal["discovered", "evaluating", "evaluated", "compared", "logged", "promoted", "held", "failed", "baseline"]
TERMINAL: frozenset[str] = frozenset({"promoted", "held", "failed", "baseline"})
Role = Literal["candidate", "baseline"]
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    registry TEXT NOT NULL, source TEXT NOT NULL, digest TEXT NOT NULL, plan TEXT NOT NULL,
    version TEXT NOT NULL, number INTEGER NOT NULL, ref TEXT NOT NULL, role TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0,
    claimed_by TEXT, lease_until REAL NOT NULL DEFAULT 0, decision TEXT, error TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, external TEXT,
    PRIMARY KEY (registry, source, digest, plan)
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL, plan TEXT NOT NULL, started_at REAL NOT NULL, seen INTEGER NOT NULL,
    PRIMARY KEY (source, plan)
);
"""
COLUMNS = {
    "registry", "source", "digest", "plan", "version", "number", "ref", "role", "state", "attempts",
    "next_attempt_at", "claimed_by", "lease_until", "decision", "error", "created_at", "updated_at", "external",
}  # fmt: skip


@dataclass(frozen=True)
class LedgerKey:
    """A version of a watched collection, evaluated by one plan."""

    source: CollectionRef
    digest: str
    plan: str  # plan.PlanIdentity.key

    def row(self) -> tuple[str, str, str, str]:
        return (self.source.backend, str(self.source), self.digest, self.plan)


@dataclass(frozen=True)
class ExternalRun:
    """Where a version's eval runs outside this process (kept before waiting on it, so a restarted
    watcher follows the same run instead of starting a second)."""

    kind: Literal["determined"]
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> ExternalRun:
        kind, _, number = text.partition(":")
        if kind != "determined" or not number.isdigit():
            raise ValueError(f"not an external run id: {text[:60]!r}")
        return cls("determined", int(number))


class Entry(BaseModel):
    """One version's row in the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    registry: Backend
    source: CollectionRef  # the watched collection (its `name` is the collection everywhere else)
    digest: str
    plan: str
    version: str
    number: int  # N of vN: the order versions were registered in
    ref: CheckpointRef  # pinned to the version
    role: Role
    state: State
    attempts: int  # eval attempts that ended (one cut short by a dead watcher does not count)
    next_attempt_at: float
    claimed_by: str | None
    lease_until: float
    decision: Decision | None  # why it was promoted, held, made the baseline, or failed
    error: str | None
    created_at: float
    updated_at: float
    external: ExternalRun | None = None

    @field_validator("decision", mode="before")
    @classmethod
    def _decision_text(cls, value: Any) -> Any:
        return Decision.model_validate_json(value) if isinstance(value, str | bytes) else value

    @field_validator("external", mode="before")
    @classmethod
    def _external_text(cls, value: Any) -> Any:
        return ExternalRun.parse(value) if isinstance(value, str) else value

    @property
    def key(self) -> LedgerKey:
        return LedgerKey(self.source, self.digest, self.plan)

    @property
    def id(self) -> VersionId:
        return VersionId(self.source, self.version, self.digest)


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str | None) -> bool:
    """A claim by a process on this host that no longer exists (killed): safe to take over."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host's claim ends with its lease
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _stored(value: object) -> object:
    """A field as its SQLite column holds it."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, ExternalRun | CollectionRef | CheckpointRef):
        return str(value)
    return value


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the watch ledger {self.path}: {exc}; check watch.ledger") from None
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # the webhook's threads share this connection with the loop

    def _migrate(self) -> None:
        """Create the tables, or bring a ledger of an earlier version up to this one (in place)."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "versions" in tables:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(versions)")}
            if "external" not in columns:  # a ledger from before the Determined executor
                with contextlib.suppress(sqlite3.OperationalError):  # another watcher added it first
                    self._db.execute("ALTER TABLE versions ADD COLUMN external TEXT")
            for table in ("versions", "cursors"):  # version 1 named them collection and plan_hash
                for old, new in (("collection", "source"), ("plan_hash", "plan")):
                    with contextlib.suppress(sqlite3.OperationalError):
                        self._db.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(versions)")}
            if columns != COLUMNS:
                raise UserError(
                    f"the watch ledger {self.path} has a 'versions' table this version cannot read (columns: "
                    f"{', '.join(sorted(columns))}); point watch.ledger at another file or move it aside"
                )
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def _entry(self, row: sqlite3.Row) -> Entry:
        try:
            return Entry.model_validate(dict(row))
        except (ValidationError, ValueError, RefError) as exc:
            raise UserError(
                f"the watch ledger {self.path} holds a row this version cannot read ({str(exc).splitlines()[0]}); "
                "move the ledger aside (or point watch.ledger at a new file) and start again"
            ) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes: claims cannot race
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, query: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(query, args).fetchall()

    # -- discovery ---------------------------------------------------------------------------

    def cursor(self, source: CollectionRef, plan: str) -> tuple[float, int] | None:
        rows = self._read("SELECT started_at, seen FROM cursors WHERE source=? AND plan=?", (str(source), plan))
        return (rows[0]["started_at"], rows[0]["seen"]) if rows else None

    def set_cursor(self, source: CollectionRef, plan: str, seen: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT(source, plan) "
                "DO UPDATE SET seen=max(seen, excluded.seen)",
                (str(source), plan, time.time(), seen),
            )

    def discover(self, key: LedgerKey, *, version: str, ref: CheckpointRef, role: Role = "candidate") -> bool:
        """Record a version; False when the ledger has it already (for this plan)."""
        from eval_orchestrator.refs import version_number

        now = time.time()
        with self._transaction() as db:
            done = db.execute(
                "INSERT OR IGNORE INTO versions (registry, source, digest, plan, version, number, ref, role,"
                " state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'discovered', ?, ?)",
                (*key.row(), version, version_number(version), str(ref), role, now, now),
            )
            return done.rowcount == 1

    # -- claims ------------------------------------------------------------------------------

    def claim(self, owner: str, lease: float, keys: list[LedgerKey] | None = None) -> Entry | None:
        """Take the next unfinished version nobody holds (baselines first, then in version order)."""
        now = time.time()
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM versions WHERE state NOT IN ('promoted', 'held', 'failed', 'baseline') "
                "AND next_attempt_at <= ? ORDER BY role = 'baseline' DESC, number, created_at",
                (now,),
            ).fetchall()
            for row in rows:
                entry = self._entry(row)
                if keys is not None and entry.key not in keys:
                    continue
                held = entry.claimed_by and entry.claimed_by != owner and entry.lease_until > now
                if held and not _owner_dead(entry.claimed_by):
                    continue
                db.execute(
                    "UPDATE versions SET claimed_by=?, lease_until=?, updated_at=? "
                    "WHERE registry=? AND source=? AND digest=? AND plan=?",
                    (owner, now + lease, now, *entry.key.row()),
                )
                return entry.model_copy(update={"claimed_by": owner, "lease_until": now + lease})
        return None

    def renew(self, entry: Entry, owner: str, lease: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE versions SET lease_until=? WHERE registry=? AND source=? AND digest=? AND plan=?"
                " AND claimed_by=?",
                (time.time() + lease, *entry.key.row(), owner),
            )

    def advance(
        self,
        entry: Entry,
        owner: str,
        state: State,
        *,
        attempts: int | None = None,
        next_attempt_at: float | None = None,
        decision: Decision | None = None,
        error: str | None = None,
        external: ExternalRun | None = None,
        clear: frozenset[str] = frozenset(),
    ) -> Entry:
        """Move a claimed version to ``state`` with the fields given (``clear``: fields set to NULL),
        releasing the claim when the state is final or a retry is scheduled."""
        given = {"attempts": attempts, "next_attempt_at": next_attempt_at, "decision": decision, "error": error,
                 "external": external}  # fmt: skip
        fields: dict[str, object] = {name: value for name, value in given.items() if value is not None}
        fields.update(dict.fromkeys(clear & {"decision", "error", "external"}))
        now = time.time()
        updates: dict[str, object] = {"state": state, "updated_at": now, **fields}
        if state in TERMINAL or next_attempt_at is not None:
            updates.update(claimed_by=None, lease_until=0)
        assignments = ", ".join(f"{name}=?" for name in updates)
        with self._transaction() as db:
            done = db.execute(
                f"UPDATE versions SET {assignments} WHERE registry=? AND source=? AND digest=? AND plan=?"
                " AND claimed_by=?",
                (*(_stored(value) for value in updates.values()), *entry.key.row(), owner),
            )
            if done.rowcount != 1:
                raise RuntimeError(f"lost the claim on {entry.ref} to another watcher")
        return entry.model_copy(update=updates)

    def release(self, entry: Entry, owner: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE versions SET claimed_by=NULL, lease_until=0 WHERE registry=? AND source=? AND digest=?"
                " AND plan=? AND claimed_by=?",
                (*entry.key.row(), owner),
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: LedgerKey) -> Entry | None:
        rows = self._read("SELECT * FROM versions WHERE registry=? AND source=? AND digest=? AND plan=?", key.row())
        return self._entry(rows[0]) if rows else None

    def entries(self, limit: int | None = None) -> list[Entry]:
        query = "SELECT * FROM versions ORDER BY updated_at DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [self._entry(row) for row in self._read(query)]
