"""W&B's cost per job at scale: V versions x T tasks of a small mockllm task (default 20 x 4, 10 samples).

Three ways over the same work, in one process, alternated --repeats times:

- ``wandb``: ``orchestrate.run`` with W&B offline (a run, a results artifact and lineage per job);
- ``disabled``: ``orchestrate.run`` with W&B disabled (our planning, hooks and logs, no W&B);
- ``bare``: a plain ``inspect_ai.eval_set`` per version on the same tasks (what Inspect alone costs).

Prints jobs, the median wall of each, the per-job cost, and W&B's share of the busy time
((wandb - disabled) / wandb).

    python benchmarks/scale.py [--versions 20] [--tasks 4] [--samples 10] [--repeats 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import offline_sandbox  # noqa: E402  (benchmarks/sandbox.py, beside this script)

TASK = REPO / "tests" / "fixtures" / "slow_tasks.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    work = offline_sandbox("bench-scale-")
    from inspect_ai import eval_set

    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_config
    from eval_orchestrator.registry.factory import local_registry

    for v in range(args.versions):
        ckpt = work / f"ckpt{v}"
        ckpt.mkdir()
        (ckpt / "weights.txt").write_text(str(v))
        local_registry().add(ckpt, "scale")
    # T distinct tasks: the same task file under different args (each its own job, log and W&B run)
    tasks = [{"spec": f"{TASK}@slow", "args": {"count": args.samples, "delay": t * 1e-6}} for t in range(args.tasks)]

    def ours(i: int, mode: str) -> float:
        config = build_config(None, {
            "checkpoints": [f"local-registry/scale:v{v}" for v in range(args.versions)],
            "tasks": tasks,
            "model": {"name": "mockllm/model", "args": {}},
            "inspect": {"log_dir": str(work / f"logs-{mode}-{i}"), "display": "none"},
            "wandb": {"mode": mode, "dir": str(work / f"wb-{mode}-{i}")},
        })  # fmt: skip
        start = time.perf_counter()
        report = orchestrate.run(config)
        took = time.perf_counter() - start
        assert report.ok and len(report.outcomes) == args.versions * args.tasks, report.failed
        return took

    def bare(i: int) -> float:
        from inspect_ai._eval.loader import load_tasks  # the same Task objects Inspect would load

        start = time.perf_counter()
        for v in range(args.versions):
            loaded: list[Any] = []
            for t in range(args.tasks):
                loaded += load_tasks([f"{TASK}@slow"], task_args={"count": args.samples, "delay": t * 1e-6})
            ok, _ = eval_set(loaded, log_dir=str(work / f"bare-{i}-{v}"), model="mockllm/model", display="none")
            assert ok
        return time.perf_counter() - start

    walls: dict[str, list[float]] = {"wandb": [], "disabled": [], "bare": []}
    for i in range(args.repeats):
        walls["wandb"].append(ours(i, "offline"))
        walls["disabled"].append(ours(i, "disabled"))
        walls["bare"].append(bare(i))
    jobs = args.versions * args.tasks
    med = {name: statistics.median(values) for name, values in walls.items()}
    print(f"{args.versions} versions x {args.tasks} tasks = {jobs} jobs of {args.samples} samples, "
          f"{args.repeats} repeat(s)")  # fmt: skip
    for name, wall in med.items():
        print(f"  {name:9s} {wall:7.1f} s   {1000 * wall / jobs:6.0f} ms/job")
    share = (med["wandb"] - med["disabled"]) / med["wandb"]
    print(f"W&B's share of the busy time: {100 * share:.1f}% ({1000 * (med['wandb'] - med['disabled']) / jobs:.0f} "
          f"ms/job); ours without W&B vs bare eval_set: x{med['disabled'] / med['bare']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
