"""Start-up cost against the tool we wrap: `eval-orchestrator run` and plain `inspect eval` on the same
12-sample mockllm task, as fresh processes, interleaved --repeats times. Prints each median and the
ratio (ours / Inspect's; the goal is 1.05 or less).

Ours runs with W&B disabled and the checkpoint already in the store, so what differs is our start-up
(imports, config, registry, plan) and our hooks, not uploads.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import offline_sandbox  # noqa: E402  (benchmarks/sandbox.py, beside this script)

TASK = f"{REPO / 'tests' / 'fixtures' / 'skill_tasks.py'}@skill"
BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    took = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = offline_sandbox("bench-startup-")
    os.environ["WANDB_MODE"] = "disabled"
    ckpt = work / "ckpt"
    ckpt.mkdir()
    (ckpt / "skill.txt").write_text("6")
    ours = [str(BIN / "eval-orchestrator"), "run", "--checkpoint", "local-registry/bench:v0", "--task", TASK,
            "--model", "mockllm/{path}", "--display", "none", "--no-log-dir-allow-dirty"]  # fmt: skip
    inspect = [str(BIN / "inspect"), "eval", TASK, "--model", "mockllm/model", "--display", "none"]
    subprocess.run([str(BIN / "eval-orchestrator"), "registry", "add", str(ckpt), "--name", "bench"], check=True,
                   cwd=work, capture_output=True)  # fmt: skip
    timed([*ours, "--log-dir", str(work / "warm-ours")], work)  # first runs: the store filled, caches warm
    timed([*inspect, "--log-dir", str(work / "warm-inspect")], work)
    walls: dict[str, list[float]] = {"eval-orchestrator run": [], "inspect eval": []}
    for i in range(args.repeats):
        walls["inspect eval"].append(timed([*inspect, "--log-dir", str(work / f"inspect-{i}")], work))
        walls["eval-orchestrator run"].append(timed([*ours, "--log-dir", str(work / f"ours-{i}")], work))
    med = {name: statistics.median(values) for name, values in walls.items()}
    for name, wall in med.items():
        print(f"{name:22s} median {wall:5.2f} s  ({', '.join(f'{v:.2f}' for v in walls[name])})")
    print(f"ratio (ours / inspect eval): x{med['eval-orchestrator run'] / med['inspect eval']:.2f}")


if __name__ == "__main__":
    main()
