"""Read an offline run's ``.wandb`` transaction log back, for assertions.

The pinned SDK (0.31) no longer ships a Python reader. The format is LevelDB's log framing
(32 KiB blocks; records of crc32 + length + type, split across blocks) after a 7-byte
':W&B' header, and each record is the SDK's own protobuf ``Record``.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def raw_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if not data:
        return []  # created, nothing written yet
    assert data[:4] == b":W&B", f"{path} is not a .wandb file"
    pos, pending, out = HEADER, b"", []
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        pos += HEADER
        chunk = data[pos : pos + length]
        pos += length
        if kind == FULL:
            out.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            out.append(pending + chunk)
            pending = b""
    return out


def _items(items: Any) -> dict[str, Any]:
    out = {}
    for item in items:
        key = item.key or "/".join(item.nested_key)
        out[key] = json.loads(item.value_json)
    return out


@dataclass
class OfflineRun:
    path: Path
    run_id: str = ""
    project: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    git_commit: str = ""
    git_remote_url: str = ""


def read_run(path: Path) -> OfflineRun:
    run = OfflineRun(path)
    for raw in raw_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.run_id, run.project, run.group, run.job_type = r.run_id, r.project, r.run_group, r.job_type
            run.tags = list(r.tags)
            run.git_commit, run.git_remote_url = r.git.commit, r.git.remote_url
            run.config.update(_items(r.config.update))
        elif kind == "config":
            run.config.update(_items(record.config.update))
        elif kind == "summary":
            run.summary.update(_items(record.summary.update))
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "artifact":
            a = record.artifact
            run.artifacts.append(
                {
                    "name": a.name,
                    "type": a.type,
                    "aliases": list(a.aliases),
                    "metadata": json.loads(a.metadata) if a.metadata else {},
                    "files": sorted(e.path for e in a.manifest.contents),
                }
            )
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


# wandb-core writes a run's .wandb file after finish() has returned (SDK 0.31, offline, a shared
# service): read at once, it was seen as the 7-byte header alone, under load. Measured with plain
# wandb (4 runs in threads, 3 processes at once): many such files, complete a moment later.
FLUSH_WAIT_S = 30


def read_finished_run(path: Path, wait: float = FLUSH_WAIT_S) -> OfflineRun:
    """The run at ``path`` once its exit record is on disk (or as it is after ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        run = read_run(path)
        if run.exit_code is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def read_runs(wandb_dir: Path) -> list[OfflineRun]:
    """Every offline run under ``<wandb_dir>/wandb``, oldest first, each once wandb has written it."""
    return [read_finished_run(p) for p in sorted((wandb_dir / "wandb").glob("offline-run-*/run-*.wandb"))]
