"""A real inspect_evals task, addressed as in `inspect eval` (inspect_evals/<name>), on the quickstart's
tiny checkpoint (2,048 positions, so the task's own prompts fit), in the main venv (the `evals` extra):
the README's block, verbatim. agent_threat_bench ships its data inside the package, so nothing is
downloaded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import cli
from tests.test_quickstart import _shell_lines

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- tested: tests/test_inspect_evals.py -->"


def readme_commands() -> list[str]:
    [code] = re.findall(re.escape(MARKER) + r"\n```bash\n(.*?)\n```", (REPO / "README.md").read_text(), flags=re.S)
    return _shell_lines(code)


@pytest.mark.slow
def test_the_readme_runs_an_inspect_evals_task_on_the_tiny_checkpoint(
    tiny_hf_checkpoints: tuple[Path, Path], isolated_env: Path
) -> None:
    make, command = readme_commands()
    # `make install` made the venv this suite runs in: inspect-evals is an ordinary package there.
    assert make == "make install"
    _, trained = tiny_hf_checkpoints
    assert cli("registry", "add", str(trained), "--name", "tiny-gpt2").returncode == 0
    (isolated_env / ".venv").symlink_to(Path(sys.prefix))
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no overlay, no path tricks
    done = subprocess.run(
        ["bash", "-c", command], cwd=isolated_env, env=environ, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = [line for line in done.stdout.splitlines() if "agent_threat_bench_memory_poison" in line]
    assert "utility/accuracy" in row and "success" in row, done.stdout[-3000:]
    # The Inspect log holds both of its dict-valued scores.
    from inspect_ai.log import list_eval_logs, read_eval_log

    [log] = list_eval_logs(str(isolated_env / "logs" / "tiny-gpt2"), recursive=True)
    results = read_eval_log(log, header_only=True).results
    assert results is not None and {"utility", "security"} <= {score.name for score in results.scores}


PROBE = """
import sys
from eval_orchestrator.ecosystem import load_entry_points
from eval_orchestrator import inspect_api

load_entry_points(False, ["tests/fixtures/skill_tasks.py@skill"])
print("after a plan of file tasks:", "inspect_evals" in sys.modules, sorted(inspect_api._ENTRY_POINTS_LOADED))
load_entry_points(False, ["inspect_evals/agent_threat_bench_memory_poison"])  # a later plan (a watcher's)
[task] = inspect_api.load_tasks("inspect_evals/agent_threat_bench_memory_poison", {})
print("after a plan naming one:", "inspect_evals" in sys.modules, task.name)
load_entry_points(True, [])  # a plan with the Weave switch on
print("after the switch on:", sorted(inspect_api._ENTRY_POINTS_LOADED), "weave" in sys.modules)
"""


def test_inspect_evals_and_inspect_wandb_are_loaded_only_for_a_plan_that_needs_them() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second, third = done.stdout.splitlines()
    # Our entry point loaded; inspect-evals' (its 130 task modules) and inspect-wandb's (Weave) not.
    assert first == "after a plan of file tasks: False ['eval_orchestrator']", first
    assert second == "after a plan naming one: True inspect_evals/agent_threat_bench_memory_poison"
    assert third == "after the switch on: ['eval_orchestrator', 'inspect_evals', 'inspect_wandb'] True", third
