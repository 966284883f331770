"""Which process wrote which Inspect run in a version's log dir, so the logs of an attempt that died
(kill -9, a lost machine) can be removed once a later attempt has taken its samples over.

Inspect's eval_set recovers a crashed attempt's finished samples from its sample buffer and re-runs
only the rest, but leaves the crashed `started` log beside the new one: nothing on disk tells it the
writer is dead. We know: each of our runs leaves ``<log dir>/eval-orchestrator/runs/<run id>``
naming its host and pid while it runs; after a successful eval_set, a `started` log whose marker
names a process of this host that no longer exists is the dead attempt's, and goes.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from eval_orchestrator import inspect_api

RUNS = "runs"


def _marker(log_dir: str | Path, run_id: str) -> Path:
    return Path(log_dir) / "eval-orchestrator" / RUNS / run_id


def mark(log_dir: str | Path, run_id: str) -> None:
    """Record that this process writes Inspect run ``run_id`` in ``log_dir``."""
    marker = _marker(log_dir, run_id)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{socket.gethostname()}:{os.getpid()}")


def unmark(log_dir: str | Path, run_ids: set[str]) -> None:
    for run_id in run_ids:
        _marker(log_dir, run_id).unlink(missing_ok=True)


def _dead(marker: Path) -> bool:
    try:
        host, _, pid = marker.read_text().partition(":")
    except OSError:
        return False
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host's run: we cannot tell, so it stays
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_dead_attempts(log_dir: str | Path) -> list[Path]:
    """Remove the `started` logs (and their sample buffers) of our runs whose process died; the
    removed logs. Call after a successful eval_set, which has taken their finished samples over."""
    from inspect_ai.log import read_eval_log

    removed = []
    for log in sorted(Path(log_dir).glob("*.eval")):
        with contextlib.suppress(Exception):  # a log we cannot read is not one we remove
            header = read_eval_log(str(log), header_only=True)
            marker = _marker(log_dir, header.eval.run_id)
            if header.status == "started" and marker.exists() and _dead(marker):
                inspect_api.cleanup_sample_buffers(str(log))
                log.unlink()
                marker.unlink(missing_ok=True)
                removed.append(log)
    return removed
