"""The download progress bar: drawn for large checkpoints only, with bytes/s."""

from __future__ import annotations

import io

from rich.console import Console

from eval_orchestrator.progress import LARGE_BYTES, RichTransferProgress


def test_large_download_draws_bytes_and_rate_small_one_does_not() -> None:
    out = io.StringIO()
    progress = RichTransferProgress(Console(file=out, force_terminal=False, width=120))
    progress.start("small:v0", LARGE_BYTES - 1)(1000)
    advance = progress.start("large:v3", 64 * 1024 * 1024)
    for _ in range(64):
        advance(1024 * 1024)
    progress.close()
    text = out.getvalue()
    assert "small:v0" not in text
    assert "large:v3" in text and "67.1/67.1 MB" in text and "/s" in text
