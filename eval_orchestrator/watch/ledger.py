"""The watch ledger: one SQLite row per (registry, collection, version digest, plan hash), so each
version is evaluated once per plan, whatever crashes in between.

States: discovered -> evaluating -> evaluated -> compared -> promoted | held | failed, or
``baseline`` for the version others are compared with. A watcher claims a row with a lease before
working on it (in one ``BEGIN IMMEDIATE`` transaction, so two watchers never claim the same row);
a claim whose lease ran out, or whose owner on this host is dead (``kill -9``), can be taken over,
and the work resumes at the row's state: eval_set reuses finished samples, W&B runs continue by
job key, and nothing is promoted twice.
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
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from eval_orchestrator.errors import UserError

State = Literal["discovered", "evaluating", "evaluated", "compared", "promoted", "held", "failed", "baseline"]
TERMINAL: frozenset[str] = frozenset({"promoted", "held", "failed", "baseline"})
Role = Literal["candidate", "baseline"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    registry TEXT NOT NULL, collection TEXT NOT NULL, digest TEXT NOT NULL, plan_hash TEXT NOT NULL,
    version TEXT NOT NULL, number INTEGER NOT NULL, ref TEXT NOT NULL, role TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0,
    claimed_by TEXT, lease_until REAL NOT NULL DEFAULT 0, decision TEXT, error TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, external TEXT,
    PRIMARY KEY (registry, collection, digest, plan_hash)
);
CREATE TABLE IF NOT EXISTS cursors (
    collection TEXT NOT NULL, plan_hash TEXT NOT NULL, started_at REAL NOT NULL, seen INTEGER NOT NULL,
    PRIMARY KEY (collection, plan_hash)
);
"""


class Entry(BaseModel):
    """One version's row in the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: str
    collection: str  # the watched reference without an alias, e.g. local-registry/tiny
    digest: str
    plan_hash: str
    version: str
    number: int  # N of vN: the order versions were registered in
    ref: str  # pinned to the version
    role: Role
    state: State
    attempts: int
    next_attempt_at: float
    claimed_by: str | None
    lease_until: float
    decision: str | None  # JSON: the comparison and why it was promoted or held
    error: str | None
    created_at: float
    updated_at: float
    external: str | None = None  # where the eval runs outside this process: "determined:<experiment id>"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.registry, self.collection, self.digest, self.plan_hash)


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


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(versions)")}
            if "external" not in columns:  # a ledger from before the Determined executor
                with contextlib.suppress(sqlite3.OperationalError):  # another watcher added it first
                    self._db.execute("ALTER TABLE versions ADD COLUMN external TEXT")
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the watch ledger {self.path}: {exc}; check watch.ledger") from None
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # the webhook's threads share this connection with the loop

    def close(self) -> None:
        self._db.close()

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

    def cursor(self, collection: str, plan_hash: str) -> tuple[float, int] | None:
        rows = self._read(
            "SELECT started_at, seen FROM cursors WHERE collection=? AND plan_hash=?", (collection, plan_hash)
        )
        return (rows[0]["started_at"], rows[0]["seen"]) if rows else None

    def set_cursor(self, collection: str, plan_hash: str, seen: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT(collection, plan_hash) "
                "DO UPDATE SET seen=max(seen, excluded.seen)",
                (collection, plan_hash, time.time(), seen),
            )

    def discover(
        self, registry: str, collection: str, digest: str, plan_hash: str, version: str, number: int, ref: str,
        role: Role = "candidate",
    ) -> bool:  # fmt: skip
        """Record a version; False when the ledger has it already (for this plan)."""
        now = time.time()
        with self._transaction() as db:
            done = db.execute(
                "INSERT OR IGNORE INTO versions (registry, collection, digest, plan_hash, version, number, ref, role,"
                " state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'discovered', ?, ?)",
                (registry, collection, digest, plan_hash, version, number, ref, role, now, now),
            )
            return done.rowcount == 1

    # -- claims ------------------------------------------------------------------------------

    def claim(self, owner: str, lease: float, keys: list[tuple[str, str, str, str]] | None = None) -> Entry | None:
        """Take the next unfinished version nobody holds (baselines first, then in version order)."""
        now = time.time()
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM versions WHERE state NOT IN ('promoted', 'held', 'failed', 'baseline') "
                "AND next_attempt_at <= ? ORDER BY role = 'baseline' DESC, number, created_at",
                (now,),
            ).fetchall()
            for row in rows:
                entry = Entry(**dict(row))
                if keys is not None and entry.key not in keys:
                    continue
                held = entry.claimed_by and entry.claimed_by != owner and entry.lease_until > now
                if held and not _owner_dead(entry.claimed_by):
                    continue
                db.execute(
                    "UPDATE versions SET claimed_by=?, lease_until=?, updated_at=? "
                    "WHERE registry=? AND collection=? AND digest=? AND plan_hash=?",
                    (owner, now + lease, now, *entry.key),
                )
                return entry.model_copy(update={"claimed_by": owner, "lease_until": now + lease})
        return None

    def renew(self, entry: Entry, owner: str, lease: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE versions SET lease_until=? WHERE registry=? AND collection=? AND digest=? AND plan_hash=?"
                " AND claimed_by=?",
                (time.time() + lease, *entry.key, owner),
            )

    def advance(self, entry: Entry, owner: str, state: State, **fields: object) -> Entry:
        """Move a claimed version to ``state`` (releasing the claim when the state is final)."""
        allowed = {"attempts", "next_attempt_at", "decision", "error", "role", "external"}
        if not set(fields) <= allowed:
            raise ValueError(f"unknown ledger fields {set(fields) - allowed}")
        now = time.time()
        updates = {"state": state, "updated_at": now, **fields}
        if state in TERMINAL or "next_attempt_at" in fields:
            updates.update(claimed_by=None, lease_until=0)
        assignments = ", ".join(f"{name}=?" for name in updates)
        with self._transaction() as db:
            done = db.execute(
                f"UPDATE versions SET {assignments} WHERE registry=? AND collection=? AND digest=? AND plan_hash=?"
                " AND claimed_by=?",
                (*updates.values(), *entry.key, owner),
            )
            if done.rowcount != 1:
                raise RuntimeError(f"lost the claim on {entry.ref} to another watcher")
        return entry.model_copy(update=updates)

    def release(self, entry: Entry, owner: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE versions SET claimed_by=NULL, lease_until=0 WHERE registry=? AND collection=? AND digest=?"
                " AND plan_hash=? AND claimed_by=?",
                (*entry.key, owner),
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: tuple[str, str, str, str]) -> Entry | None:
        rows = self._read("SELECT * FROM versions WHERE registry=? AND collection=? AND digest=? AND plan_hash=?", key)
        return Entry(**dict(rows[0])) if rows else None

    def entries(self, limit: int | None = None) -> list[Entry]:
        query = "SELECT * FROM versions ORDER BY updated_at DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [Entry(**dict(row)) for row in self._read(query)]
