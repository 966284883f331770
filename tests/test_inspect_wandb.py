"""With inspect-wandb installed (and configured: a W&B project and entity, so its hooks would log),
our evals still make exactly one W&B run per job: its W&B Models hooks are switched off for them, and
its Weave hooks too while wandb.weave is off. inspect-wandb lives in the overlay `make install` builds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import cli

OVERLAY = Path(sys.prefix) / "evals" / "site-packages"
SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"


def test_one_w_and_b_run_per_job_with_inspect_wandb_installed(isolated_env: Path) -> None:
    if not (OVERLAY / "inspect_wandb").is_dir():
        pytest.skip(f"no inspect-wandb overlay at {OVERLAY}; `make install` builds it")
    # What inspect-wandb needs to switch itself on: a key, a project and an entity (W&B stays offline).
    env = {**os.environ, "PYTHONPATH": str(OVERLAY), "WANDB_PROJECT": "evals", "WANDB_ENTITY": "team",
           "WANDB_API_KEY": "e0" * 20, "WANDB_MODE": "offline"}  # fmt: skip
    probe = "import inspect_wandb, importlib.metadata as m; print(m.version('inspect-wandb'))"
    loaded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert loaded.stdout.strip() == "0.3.0", loaded.stderr  # the package is there, for this process
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("5")
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "eval_orchestrator.cli", "run", "--checkpoint", "local-registry/tiny",
         "--task", f"{SKILL}@skill", "--model", "mockllm/{path}", "--display", "none"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted((isolated_env / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs  # one job, one run: ours
