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


class NotJsonLines(ValueError):
    """The file is not JSON Lines text (binary, or another format): the caller names it."""


def read_jsonl(path: Path) -> list[Any]:
    """Every whole record in ``path`` (none if it does not exist), torn lines left out. A file that is
    not UTF-8 text, or a line nested past what a record could be, raises NotJsonLines."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotJsonLines(f"{path} is not text") from None
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except RecursionError:
            raise NotJsonLines(f"{path} holds a line nested too deeply to be a record") from None
        except ValueError:
            continue  # blank, or torn by a crash
    return records
