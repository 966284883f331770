"""The resume record of a partial download: which ranges and files were already written and checked.

One JSON line per fact, appended and flushed as it happens, so a process killed at any point
leaves a journal whose every complete line is true (a torn last line is ignored). The next run
trusts a finished file only if its size and mtime still match, and a finished range only after
re-hashing its bytes from disk, so a resumed checkpoint is as exact as a fresh one.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

JOURNAL = "journal.jsonl"


class Journal:
    def __init__(self, staging: Path) -> None:
        self.path = staging / JOURNAL
        self._ranges: dict[tuple[str, int, int], list[str]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        text = self.path.read_text() if self.path.exists() else ""
        for line in text.splitlines():
            try:
                self._apply(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if text and not text.endswith("\n"):
            os.write(self._fd, b"\n")  # end the torn line, or the next fact would be glued to it

    def _apply(self, fact: dict[str, Any]) -> None:
        path = fact["path"]
        if fact.get("forget"):
            self._files.pop(path, None)
            self._ranges = {k: v for k, v in self._ranges.items() if k[0] != path}
        elif "md5s" in fact:
            self._ranges[(path, int(fact["start"]), int(fact["end"]))] = list(fact["md5s"])
        else:
            self._files[path] = fact

    def _append(self, fact: dict[str, Any]) -> None:
        with self._lock:
            self._apply(fact)
            os.write(self._fd, (json.dumps(fact, sort_keys=True) + "\n").encode())

    def range_md5s(self, path: str, start: int, end: int) -> list[str] | None:
        return self._ranges.get((path, start, end))

    def finished_file(self, path: str) -> dict[str, Any] | None:
        return self._files.get(path)

    def record_range(self, path: str, start: int, end: int, md5s: list[str]) -> None:
        self._append({"path": path, "start": start, "end": end, "md5s": md5s})

    def record_file(self, path: str, size: int, mtime_ns: int, local_md5: str | None) -> None:
        self._append({"path": path, "size": size, "mtime_ns": mtime_ns, "local_md5": local_md5})

    def forget(self, path: str) -> None:
        self._append({"path": path, "forget": True})

    def close(self) -> None:
        os.close(self._fd)
