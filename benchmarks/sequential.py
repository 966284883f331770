"""The sequential gate's error rates and sample use, next to the fixed-size gate at the same alpha.

Per scenario, --reps simulated comparisons of n paired samples (binary or continuous scores, with
or without clusters; comparison/simulation.py says how they are drawn), each decided by both gates:

- false promotion: the candidate is worse by exactly the margin (M = MDE / 2) and the gate passes it;
  and, with no margin and no effect, the verdict says "better". Both should be at most alpha / 2
  (one side of the two-sided interval), within the Monte Carlo interval printed beside them;
- power: effects of 1x, 2x and 4x the fixed test's minimum detectable effect (80% power), "better";
- samples: the mean, median and 90th percentile fraction of the n samples the sequential gate used.

    python benchmarks/sequential.py [--reps 2000] [--looks 10] [--alpha 0.05] [--n 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval_orchestrator.comparison.simulation import (  # noqa: E402
    Rates,
    Scenario,
    minimum_detectable_effect,
    simulate,
)


def _rate(rates: Rates, value: float) -> str:
    low, high = rates.interval(value)
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--looks", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"{args.reps} comparisons per scenario, n={args.n}, alpha={args.alpha}, {args.looks} looks (O'Brien-Fleming)")
    print("| scores | clusters | scenario | gate | false promotion or power | samples used: mean / median / p90 |")
    print("|---|---|---|---|---|---|")
    for binary in (True, False):
        for clusters in (None, args.n // 5):
            null = Scenario(binary, 0.0, None, args.n, clusters)
            mde = minimum_detectable_effect(null, args.alpha, args.seed)
            margin = mde / 2
            cases = [
                ("no effect: P(better)", null, "better"),
                (f"at the margin (M={margin:.3f}): P(pass)", Scenario(binary, -margin, margin, args.n, clusters),
                 "passed"),
            ] + [
                (f"{k}x MDE ({k * mde:.3f}): P(better)", Scenario(binary, k * mde, None, args.n, clusters), "better")
                for k in (1, 2, 4)
            ]  # fmt: skip
            for index, (name, scenario, measure) in enumerate(cases):
                sequential, fixed = simulate(scenario, args.reps, args.looks, args.alpha, args.seed + index)
                kind = "binary" if binary else "continuous"
                grouped = f"{clusters} of {args.n // clusters}" if clusters else "none"
                for gate, rates in (("sequential", sequential), ("fixed", fixed)):
                    used = f"{rates.mean_fraction:.2f} / {rates.median_fraction:.2f} / {rates.p90_fraction:.2f}"
                    value = rates.passed if measure == "passed" else rates.better
                    print(f"| {kind} | {grouped} | {name} | {gate} | {_rate(rates, value)} | {used} |")
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
