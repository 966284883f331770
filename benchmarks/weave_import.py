"""What installing inspect-wandb[weave] (and inspect-evals) costs a run that leaves wandb.weave off.

Inspect imports every installed package's entry points before an eval. inspect-wandb's would import
Weave (and OpenTelemetry, gql, Sentry with it); with the switch off we load them with Weave hidden.
Each condition runs in a fresh interpreter of the main venv, --repeats times, alternating; the child
hides the packages a condition leaves out (their modules and their entry points, as if not
installed) and times importing our package and loading Inspect's entry points as a run does:

  baseline      neither inspect-wandb nor inspect-evals
  switch off    inspect-wandb[weave], wandb.weave off
  switch on     the same, wandb.weave on: what every run paid before Weave was hidden
  + evals       inspect-wandb[weave] and inspect-evals (the main venv as `make install` builds it), off,
                a plan of file tasks: inspect-evals' entry point is left unloaded
  + evals, named  the same, a plan naming an inspect_evals task: its entry point loads (130 task modules)

    python benchmarks/weave_import.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import importlib.metadata as metadata, sys, time
HIDE = {hide!r}
for name in HIDE:
    sys.modules[name] = None  # import and find_spec both see no such package
everything = metadata.entry_points
def entry_points(**select):
    found = everything(**select)
    if not select:  # the whole listing (as wandb asks for it): left as it is
        return found
    return metadata.EntryPoints(ep for ep in found if ep.value.split(".")[0].split(":")[0] not in HIDE)
metadata.entry_points = entry_points
start = time.perf_counter()
from eval_orchestrator.ecosystem import load_entry_points
load_entry_points({weave}, {tasks!r})
print(time.perf_counter() - start, sys.modules.get("weave") is not None)
"""
FILE_TASK = ["tests/fixtures/skill_tasks.py@skill"]
EVALS_TASK = ["inspect_evals/agent_threat_bench_memory_poison"]
CONDITIONS: dict[str, tuple[tuple[str, ...], bool, list[str]]] = {
    "baseline": (("inspect_wandb", "inspect_evals", "weave"), False, FILE_TASK),
    "switch off": (("inspect_evals",), False, FILE_TASK),
    "switch on": (("inspect_evals",), True, FILE_TASK),
    "+ evals": ((), False, FILE_TASK),
    "+ evals, named": ((), False, EVALS_TASK),
}


def measure(hide: tuple[str, ...], weave: bool, tasks: list[str]) -> tuple[float, bool]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(hide=set(hide), weave=weave, tasks=tasks)],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return float(out[0]), out[1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for package in ("inspect_wandb", "weave", "inspect_evals"):
        if importlib.util.find_spec(package) is None:
            sys.exit(f"{package} is not installed here: run it with the venv `make install` builds")
    times: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    imported: dict[str, bool] = {}
    for _ in range(args.repeats):
        for name, (hide, weave, tasks) in CONDITIONS.items():
            seconds, imported[name] = measure(hide, weave, tasks)
            times[name].append(seconds)
    base = statistics.median(times["baseline"])
    print(f"import eval_orchestrator + Inspect entry points, median of {args.repeats} fresh interpreters:")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:<15} {median:6.2f} s  x{median / base:4.2f} of baseline  (weave imported: {imported[name]})")


if __name__ == "__main__":
    main()
