"""Append-only JSON Lines files (lineage, sync ledger, spooled history, usage log).

A process killed mid-append leaves a torn last line; readers skip it rather than fail, since every
writer here appends whole records and a torn one was never complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every whole record in ``path`` (none if it does not exist), torn lines left out."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # blank, or torn by a crash
    return records
