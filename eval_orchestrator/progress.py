"""A rich progress bar for checkpoint downloads: bytes, bytes/s and ETA, shown only when bytes move."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

Advance = Callable[[int], None]


class TransferProgress(Protocol):
    def start(self, label: str, total: int) -> Advance: ...


# Below this a download takes a moment and a bar is only noise.
LARGE_BYTES = 32 * 1024 * 1024


class RichTransferProgress:
    """One bar per large checkpoint; a warm hit (no bytes) never draws one."""

    def __init__(self, console: Any = None, min_bytes: int = LARGE_BYTES) -> None:
        self._console = console
        self._min_bytes = min_bytes
        self._progress: Any = None
        self._lock = threading.Lock()

    def start(self, label: str, total: int) -> Advance:
        task_id: Any = None
        if total < self._min_bytes:
            return lambda _n: None

        def advance(n: int) -> None:
            nonlocal task_id
            if task_id is None:
                with self._lock:
                    if task_id is None:
                        task_id = self._bar().add_task(label, total=total)
            self._progress.advance(task_id, n)

        return advance

    def _bar(self) -> Any:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self._console or Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self._progress

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> RichTransferProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
