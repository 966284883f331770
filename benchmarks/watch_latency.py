"""Wall time from a registration to the start of its eval, with `watch --interval 1`.

A watcher runs on the local registry (mockllm skill task, W&B offline); each trial registers a new
version and times, from `registry add` returning, until the watcher prints `evaluating <ref>`.
Medians of --trials; the floor is the poll interval (a version lands, on average, half an
interval before the next poll) plus the poll itself.

    python benchmarks/watch_latency.py [--trials 5] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "tests" / "fixtures" / "skill_tasks.py"
CLI = [sys.executable, "-m", "eval_orchestrator.cli"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="watch-latency-"))
    env = {
        **os.environ,
        "EVAL_ORCHESTRATOR_REGISTRY": str(root / "registry"),
        "WANDB_ARTIFACT_DIR": str(root / "store"),
        "WANDB_DIR": str(root / "wb"),
        "WANDB_MODE": "offline",
        "INSPECT_DISPLAY": "none",
    }
    plan = root / "plan.yaml"
    plan.write_text(json.dumps({
        "tasks": [{"spec": f"{SKILL}@skill"}],
        "model": {"name": "mockllm/{path}", "args": {}},
        "inspect": {"log_dir": str(root / "logs"), "display": "none"},
        "watch": {"collections": ["local-registry/tiny"], "baseline": "prod", "promote": "staging",
                  "ledger": str(root / "ledger.sqlite"), "interval": args.interval},
    }))  # fmt: skip

    sys.path.insert(0, str(ROOT))
    from eval_orchestrator.registry.local import LocalRegistry

    registry = LocalRegistry(root / "registry")

    def register(skill: int, *aliases: str) -> None:
        # In this process: the version is visible to the watcher the moment add() returns.
        source = root / f"ckpt-{time.monotonic_ns()}"
        source.mkdir()
        (source / "skill.txt").write_text(str(skill))
        (source / "nonce.txt").write_text(source.name)  # the same bytes again would be the same version
        registry.add(source, "tiny", list(aliases))

    register(10, "prod")
    watcher = subprocess.Popen([*CLI, "watch", "--config", str(plan)], env=env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    assert watcher.stderr is not None
    stream = watcher.stderr

    def read_lines() -> None:
        for line in stream:
            lines.put((time.perf_counter(), line))

    threading.Thread(target=read_lines, daemon=True).start()

    def wait_for(fragment: str, timeout: float = 300) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            at, line = lines.get(timeout=max(0.1, deadline - time.perf_counter()))
            if fragment in line:
                return at

    try:
        wait_for("baseline: local-registry/tiny:v0")
        latencies = []
        for trial in range(1, args.trials + 1):
            time.sleep(args.interval * 0.37 * trial % args.interval)  # land at different points of a cycle
            register(12 + trial % 5)
            registered = time.perf_counter()
            started = wait_for(f"evaluating local-registry/tiny:v{trial}")
            latencies.append(started - registered)
            wait_for(f"local-registry/tiny:v{trial} (")  # its decision, before the next trial
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
    print(f"registration -> eval start with --interval {args.interval:g}: median {statistics.median(latencies):.2f} s, "
          f"min {min(latencies):.2f} s, max {max(latencies):.2f} s over {len(latencies)} trials")  # fmt: skip


if __name__ == "__main__":
    main()
