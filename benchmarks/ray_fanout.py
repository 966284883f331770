"""`executor: ray` against `executor: local` on one plan: 2 checkpoint versions x 4 tasks of a delay-bound
mockllm task (each sample sleeps; one sample at a time, so a task is count x delay seconds).

Four ways, alternated in each repeat:
- local, units one after another (inspect.max_tasks 1): the baseline a fan-out divides;
- local as by default (Inspect's eval_set already overlaps up to 10 tasks of one version; versions in turn);
- Ray, one unit per version (split: version), and one unit per version x task (split: task), on a
  two-node cluster on loopback (2 CPUs each: 4 units at a time).

Prints medians of --repeats: wall times and speedups; the per-unit overhead from Ray's state API
(creation -> start: Ray leasing a worker, starting its process and runtime env, for units that did not
wait for a slot; start -> end beyond the unit's own count x delay: a fresh worker's imports, W&B init,
the store link); a no-op Ray task's round trip on the same cluster (Ray's floor); and the embedded
default's start-up and shutdown (a local Ray instance started for the run).

    python benchmarks/ray_fanout.py [--repeats 3] [--count 20] [--delay 0.5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import offline_sandbox  # noqa: E402  (benchmarks/sandbox.py, beside this script)

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when ray is imported: every node on 127.0.0.1
os.environ.setdefault("RAY_LOGGER_LEVEL", "warning")
VERSIONS, TASKS, SLOTS = 2, 4, 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--count", type=int, default=20, help="samples per task")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per sample")
    args = parser.parse_args()

    work = offline_sandbox("bench-ray-", HF_HUB_OFFLINE="1")
    import ray
    from ray.cluster_utils import Cluster

    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_config
    from eval_orchestrator.executor_config import ExecutorConfig
    from eval_orchestrator.executors.ray_cluster import connected
    from eval_orchestrator.registry.factory import local_registry

    for version in range(VERSIONS):
        ckpt = work / f"ckpt-{version}"
        ckpt.mkdir()
        (ckpt / "config.json").write_text(f'{{"version": {version}}}')
        local_registry().add(ckpt, "bench")

    task = f"{REPO / 'tests/fixtures/slow_tasks.py'}@slow"

    def config(name: str, executor: dict[str, Any], max_tasks: int | None) -> Any:
        return build_config(
            None,
            {
                "checkpoints": [f"local-registry/bench:v{v}" for v in range(VERSIONS)],
                "tasks": [
                    {"spec": task, "args": {"count": args.count, "delay": args.delay, "record": str(work / f"t{i}")}}
                    for i in range(TASKS)  # four distinct tasks (their args differ), the same cost
                ],
                "model": {"name": "mockllm/model", "args": {}},
                "inspect": {
                    "log_dir": str(work / "logs" / name),
                    "display": "none",
                    "max_samples": 1,
                    **({"max_tasks": max_tasks} if max_tasks else {}),
                },
                "executor": executor,
            },
        )

    def timed(name: str, executor: dict[str, Any], max_tasks: int | None = None) -> float:
        started = time.perf_counter()
        report = orchestrate.run(config(name, executor, max_tasks))
        elapsed = time.perf_counter() - started
        assert len(report.outcomes) == VERSIONS * TASKS and report.ok, report.failed
        return elapsed

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": True})
    cluster.add_node(num_cpus=2)
    address = cluster.address
    unit_s = args.count * args.delay
    times: dict[str, list[float]] = {"serial": [], "local": [], "version": [], "task": []}
    scheduling: list[float] = []
    in_worker: list[float] = []
    try:
        for i in range(args.repeats):
            times["serial"].append(timed(f"serial-{i}", {"kind": "local"}, max_tasks=1))
            times["local"].append(timed(f"local-{i}", {"kind": "local"}))
            times["version"].append(timed(f"version-{i}", {"kind": "ray", "address": address}))
            since_ms = time.time() * 1000
            times["task"].append(timed(f"task-{i}", {"kind": "ray", "address": address, "split": "task"}))
            units = _units(address, since_ms)
            first_wave = sorted(units, key=lambda u: u.creation_time_ms or 0)[:SLOTS]
            scheduling += [(u.start_time_ms - u.creation_time_ms) for u in first_wave]
            in_worker += [(u.end_time_ms - u.start_time_ms) - 1000 * unit_s for u in units]
            print(f"  run {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        noop = _noop_round_trip_ms(ray, address)
    finally:
        cluster.shutdown()

    starts, stops = [], []
    for _ in range(args.repeats):
        with connected(ExecutorConfig(kind="ray"), lambda line: None) as embedded:
            starts.append(embedded.started_s)
            leaving = time.perf_counter()
        stops.append(time.perf_counter() - leaving)

    m = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{VERSIONS} versions x {TASKS} tasks x {args.count} samples x {args.delay:g} s ({unit_s:g} s a unit), "
        f"median of {args.repeats}, {os.cpu_count()} cores:"
    )
    print(f"  local, one unit at a time (max_tasks 1)   {m['serial']:6.1f} s   1.00x")
    print(f"  local, Inspect's default (tasks overlap)  {m['local']:6.1f} s   {m['serial'] / m['local']:.2f}x")
    for kind in ("version", "task"):
        print(
            f"  Ray, 2 nodes x 2 CPUs, split: {kind:<7}     {m[kind]:6.1f} s   {m['serial'] / m[kind]:.2f}x"
            f" ({m['local'] / m[kind]:.2f}x Inspect's default)"
        )
    print(
        f"per-unit overhead: Ray creation -> start {statistics.median(scheduling):.0f} ms (first wave: worker lease,"
        f" process start, runtime env); in the worker beyond the unit's {unit_s:g} s"
        f" {statistics.median(in_worker):.0f} ms; a no-op Ray task's round trip {noop:.1f} ms"
    )
    print(
        f"embedded default: local Ray instance start {1000 * statistics.median(starts):.0f} ms,"
        f" shutdown {1000 * statistics.median(stops):.0f} ms (median of {args.repeats})"
    )


def _units(address: str, since_ms: float) -> list[Any]:
    """The run's eval units (not its capture units) as Ray's state API recorded them."""
    from ray.util.state import list_tasks

    time.sleep(2)  # the state API reports task events with a short lag
    tasks = list_tasks(
        address=address, filters=[("name", "=", "run_unit")], detail=True, limit=10_000, raise_on_missing_output=False
    )
    ours = [t for t in tasks if t.creation_time_ms and t.creation_time_ms >= since_ms and t.end_time_ms]
    ours.sort(key=lambda t: t.creation_time_ms or 0)
    return ours[VERSIONS:]  # the first VERSIONS units are the captures (submitted before any eval unit)


def _noop_round_trip_ms(ray: Any, address: str) -> float:
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        noop = ray.remote(num_cpus=0)(lambda: None)
        ray.get(noop.remote())  # warm: a worker started
        rounds = []
        for _ in range(50):
            began = time.perf_counter()
            ray.get(noop.remote())
            rounds.append(1000 * (time.perf_counter() - began))
        return statistics.median(rounds)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
