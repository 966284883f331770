"""What installing inspect-wandb[weave] costs a run that leaves wandb.weave off.

Inspect imports every installed package's entry points before an eval. inspect-wandb's would import
Weave (and OpenTelemetry, gql, Sentry with it); with the switch off we load them with Weave hidden.
Each condition runs in a fresh interpreter, --repeats times, alternating; the child times importing
our package and loading Inspect's entry points as a run does:

  baseline     inspect-wandb not installed
  switch off   inspect-wandb[weave] installed (the `make install` overlay, less inspect-evals), wandb.weave off
  switch on    the same, wandb.weave on: what every run paid before Weave was hidden

    python benchmarks/weave_import.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OVERLAY = Path(sys.prefix) / "evals" / "site-packages"
CHILD = """
import time
start = time.perf_counter()
from eval_orchestrator.ecosystem import load_entry_points
load_entry_points({weave})
import sys
print(time.perf_counter() - start, "weave" in sys.modules)
"""


def without_inspect_evals(root: Path) -> Path:
    """The overlay less inspect-evals (its entry point imports every task it has: another cost)."""
    view = root / "site-packages"
    view.mkdir()
    for entry in OVERLAY.iterdir():
        if not entry.name.startswith("inspect_evals"):
            (view / entry.name).symlink_to(entry)
    return view


def measure(site: Path | None, weave: bool) -> tuple[float, bool]:
    env = {**os.environ, "PYTHONPATH": str(site or "")}
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(weave=weave)], env=env, cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if not (OVERLAY / "weave").is_dir():
        sys.exit(f"no inspect-wandb[weave] overlay at {OVERLAY}: run `make install`")
    site = without_inspect_evals(Path(tempfile.mkdtemp(prefix="bench-weave-")))
    conditions = {"baseline": (None, False), "switch off": (site, False), "switch on": (site, True)}
    times: dict[str, list[float]] = {name: [] for name in conditions}
    imported: dict[str, bool] = {}
    for _ in range(args.repeats):
        for name, (path, weave) in conditions.items():
            seconds, imported[name] = measure(path, weave)
            times[name].append(seconds)
    base = statistics.median(times["baseline"])
    print(f"import eval_orchestrator + Inspect entry points, median of {args.repeats} fresh interpreters:")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:<11} {median:6.2f} s  x{median / base:4.2f} of baseline  (weave imported: {imported[name]})")


if __name__ == "__main__":
    main()
