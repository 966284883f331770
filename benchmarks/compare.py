"""How long `compare` takes on big evals, and what the statistics add to reading the logs.

Two versions x 5 tasks x 10,000 samples x 2 epochs, in real `.eval` logs written by Inspect's own
recorder (4 tasks scored C/I, 1 with a continuous score, so both bootstrap paths run). Printed, as
medians of --repeats runs in this process:

- read: the ten logs' headers and per-sample scores (our summaries.json path), and the same through
  Inspect's public `read_eval_log_sample_summaries` (one pydantic object per sample), for scale;
- stats: pairing and the statistics of every task (10,000 seeded bootstrap resamples each);
- compare: the whole `compare()` (registry resolve, logs, statistics, Holm);
- scipy: `scipy.stats.bootstrap` (percentile, 10,000 resamples) on the same paired differences.

The logs take minutes to write (Inspect writes each sample as its own zip member); they are kept
under benchmarks/.data/ and reused (--fresh writes them again).

    python benchmarks/compare.py [--samples 10000] [--repeats 3] [--fresh]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TASKS = ("arith", "capitals", "qa", "safety", "graded")  # "graded" has a continuous score
EFFECTS = {"arith": -0.02, "capitals": 0.05, "qa": 0.0, "safety": 0.01, "graded": 0.03}


def _write(args: tuple[str, str, int, int]) -> str:
    from tests.eval_logs import Epoch, write_log

    path, task, version, samples = args
    rng = np.random.default_rng(zlib.crc32(f"{task}-{version}".encode()))
    ability = np.random.default_rng(zlib.crc32(task.encode())).random(samples)  # both versions': pairing
    shift = EFFECTS[task] * version

    def epochs():  # type: ignore[no-untyped-def]
        for i in range(samples):
            for epoch in (1, 2):
                if task == "graded":
                    value: object = float(np.clip(ability[i] + shift + rng.normal(0, 0.1), 0, 1))
                else:
                    value = "C" if rng.random() < ability[i] + shift else "I"
                yield Epoch(f"q{i}", epoch, {"score": value})

    write_log(Path(path), task, epochs())
    return path


def prepare(data: Path, samples: int, fresh: bool) -> None:
    from eval_orchestrator.registry.factory import local_registry

    marker = data / f"ready-{samples}"
    if marker.exists() and not fresh:
        return
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    digests = []
    for version in range(2):
        source = data / f"src{version}"
        source.mkdir()
        (source / "weights.bin").write_text(f"benchmark checkpoint {version}")
        digests.append(local_registry().add(str(source), "bench", [], {}, None).digest)
    jobs = [
        (str(data / "logs" / "bench" / f"v{v}-{digests[v][:12]}" / f"{task}.eval"), task, v, samples)
        for v in range(2)
        for task in TASKS
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for done in pool.map(_write, jobs):
            print(f"  wrote {Path(done).relative_to(data)}", flush=True)
    print(f"  {len(jobs)} logs written in {time.perf_counter() - started:.0f} s")
    marker.touch()


def median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    data = ROOT / "benchmarks" / ".data" / "compare"
    os.environ["EVAL_ORCHESTRATOR_REGISTRY"] = str(data / "registry")
    os.environ.setdefault("INSPECT_DISPLAY", "none")
    prepare(data, args.samples, args.fresh)

    from inspect_ai.log import read_eval_log_sample_summaries

    from eval_orchestrator.comparison.compare import CompareOptions, compare, compare_metric
    from eval_orchestrator.comparison.scores import latest_logs, read_task_scores
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.refs import CheckpointRef
    from eval_orchestrator.registry.factory import Registries

    options = CompareOptions(log_dir=str(data / "logs"))
    registries = Registries(build_store_config())
    base, cand = (registries.resolve(CheckpointRef.parse(f"local-registry/bench:v{n}")) for n in (0, 1))
    dirs = sorted((data / "logs" / "bench").iterdir())
    logs = [latest_logs(d) for d in dirs]
    loaded: list[dict[str, Any]] = []

    def read() -> None:
        loaded[:] = [{t: read_task_scores(t, p) for t, p in latest_logs(d).items()} for d in dirs]

    def read_public() -> None:
        for found in logs:
            for path in found.values():
                read_eval_log_sample_summaries(str(path))

    def statistics_only() -> None:
        for task in TASKS:
            b, c = loaded[0][task], loaded[1][task]
            compare_metric(base, cand, b, c, "score", options, [])

    def whole() -> None:
        compare("local-registry/bench:v0", "local-registry/bench:v1", options)

    def scipy_bootstrap() -> None:
        from scipy import stats

        for task in TASKS:
            b, c = loaded[0][task].metrics["score"], loaded[1][task].metrics["score"]
            ids = sorted(b.keys() & c.keys())
            d = np.array([c[i] - b[i] for i in ids])
            stats.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile", batch=500, random_state=0)

    t_read = median_time(read, args.repeats)
    t_public = median_time(read_public, args.repeats)
    t_stats = median_time(statistics_only, args.repeats)
    t_whole = median_time(whole, args.repeats)
    t_scipy = median_time(scipy_bootstrap, 1)
    n = sum(len(s.metrics["score"]) for side in loaded for s in side.values())
    print(
        f"\n2 versions x {len(TASKS)} tasks x {args.samples} samples x 2 epochs ({n} per-sample scores); "
        f"medians of {args.repeats}, {os.cpu_count()} cores"
    )
    print(f"read logs (ours, summaries.json)      {t_read:7.2f} s")
    print(f"read logs (Inspect's public reader)   {t_public:7.2f} s   ({t_public / t_read:.1f}x ours)")
    share = 100 * t_stats / t_read
    print(f"statistics (10,000 resamples/task)    {t_stats:7.2f} s   ({share:.1f}% of reading; goal < 10%)")
    print(f"whole compare()                       {t_whole:7.2f} s   (goal < 10 s)")
    print(f"scipy.stats.bootstrap, same data      {t_scipy:7.2f} s   ({t_scipy / t_stats:.0f}x our statistics)")


if __name__ == "__main__":
    main()
