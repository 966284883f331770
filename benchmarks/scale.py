"""W&B's cost per job at scale: V versions x T tasks of a small mockllm task (default 20 x 4, 10 samples).

Three ways over the same work, in one process, alternated --repeats times:

- ``wandb``: ``orchestrate.run`` with W&B offline (a run, a results artifact and lineage per job), its
  runs in the W&B writer process (``wandb.writer: auto`` picks it for a plan this large);
- ``inline``: the same with ``wandb.writer: inline`` (the SDK's work in the eval process);
- ``disabled``: ``orchestrate.run`` with W&B disabled (our planning, hooks and logs, no W&B);
- ``bare``: a plain ``inspect_ai.eval_set`` per version on the same tasks (what Inspect alone costs).

A small untimed plan runs first, W&B disabled, so Inspect's and our own first-eval costs (imports,
the model provider) are billed to no mode. W&B's own one-time cost in a process (importing wandb,
starting its wandb-core service, the first run) falls on the first ``wandb`` plan, so with
--repeats 2 or more it is printed apart: that plan's wall minus the median of the later ones.

Prints jobs, the median wall of each, the per-job cost, and W&B's share of the busy time
((wandb - disabled) / wandb), in steady state (later plans) and for a plan alone in its process.

    python benchmarks/scale.py [--versions 20] [--tasks 4] [--samples 10] [--repeats 3]
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
    parser.add_argument("--repeats", type=int, default=3)
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

    def ours(
        i: int | str, mode: str, versions: int = args.versions, jobs: list[dict[str, Any]] = tasks, writer: str = "auto"
    ) -> float:
        config = build_config(None, {
            "checkpoints": [f"local-registry/scale:v{v}" for v in range(versions)],
            "tasks": jobs,
            "model": {"name": "mockllm/model", "args": {}},
            "inspect": {"log_dir": str(work / f"logs-{mode}-{writer}-{i}"), "display": "none"},
            "wandb": {"mode": mode, "dir": str(work / f"wb-{mode}-{writer}-{i}"), "writer": writer},
        })  # fmt: skip
        start = time.perf_counter()
        report = orchestrate.run(config)
        took = time.perf_counter() - start
        assert report.ok and len(report.outcomes) == versions * len(jobs), report.failed
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

    ours("warm-up", "disabled", versions=1, jobs=tasks[:1])
    walls: dict[str, list[float]] = {"wandb": [], "inline": [], "disabled": [], "bare": []}
    for i in range(args.repeats):
        walls["wandb"].append(ours(i, "offline"))
        walls["inline"].append(ours(i, "offline", writer="inline"))
        walls["disabled"].append(ours(i, "disabled"))
        walls["bare"].append(bare(i))
    jobs = args.versions * args.tasks
    first_wandb, first_inline = walls["wandb"][0], walls["inline"][0]
    if args.repeats > 1:  # the first W&B plans paid W&B's one-time start in this process
        walls["wandb"], walls["inline"] = walls["wandb"][1:], walls["inline"][1:]
    med = {name: statistics.median(values) for name, values in walls.items()}
    rounded = {name: [round(wall, 1) for wall in values] for name, values in walls.items()}
    print(f"walls (s): {rounded}; first plans: wandb {first_wandb:.1f}, inline {first_inline:.1f}")
    print(f"{args.versions} versions x {args.tasks} tasks = {jobs} jobs of {args.samples} samples, "
          f"{args.repeats} repeat(s)")  # fmt: skip
    for name, wall in med.items():
        print(f"  {name:9s} {wall:7.1f} s   {1000 * wall / jobs:6.0f} ms/job")
    for name in ("wandb", "inline"):
        share = (med[name] - med["disabled"]) / med[name]
        print(f"W&B's share of the busy time ({name}): {100 * share:.1f}% "
              f"({1000 * (med[name] - med['disabled']) / jobs:.0f} ms/job)")  # fmt: skip
    print(f"ours without W&B vs bare eval_set: x{med['disabled'] / med['bare']:.2f}")
    if args.repeats > 1:
        for name, first in (("wandb", first_wandb), ("inline", first_inline)):
            alone = (first - med["disabled"]) / first
            print(
                f"{name}: W&B's one-time start in a process {first - med[name]:+.1f} s; "
                f"its share of a plan alone in its process {100 * alone:.1f}%"
            )


if __name__ == "__main__":
    main()
