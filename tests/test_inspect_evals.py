"""A real inspect_evals task, addressed as in `inspect eval` (inspect_evals/<name>), on the quickstart's
tiny checkpoint (2,048 positions, so the task's own prompts fit). agent_threat_bench ships its data
inside the package, so nothing is downloaded. inspect-evals lives in an overlay `make install` builds
(see the Makefile: it cannot share the venv with the determined extra)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import cli

OVERLAY = Path(sys.prefix) / "evals" / "site-packages"


@pytest.mark.slow
def test_an_inspect_evals_task_runs_on_the_tiny_checkpoint(
    tiny_hf_checkpoints: tuple[Path, Path], isolated_env: Path
) -> None:
    if not (OVERLAY / "inspect_evals").is_dir():
        pytest.skip(f"no inspect-evals overlay at {OVERLAY}; `make install` builds it")
    _, trained = tiny_hf_checkpoints
    assert cli("registry", "add", str(trained), "--name", "tiny-gpt2").returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "eval_orchestrator.cli", "run", "--checkpoint", "local-registry/tiny-gpt2",
         "--task", "inspect_evals/agent_threat_bench_memory_poison", "--limit", "2", "--max-tokens", "16",
         "--display", "none", "--json"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(OVERLAY)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["status"] == "success" and outcome["task"] == "agent_threat_bench_memory_poison"
    assert {"utility/accuracy", "security/accuracy"} <= set(outcome["metrics"])  # its dict-valued scores
