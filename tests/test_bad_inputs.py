"""The bad-input corpus (tests/bad_input_cases.py) through the real CLI: every case must exit
non-zero with the taxonomy's code and exactly one `error:` line, with no traceback, and leave the
registry and the store as they were. The counts (tried / clean / tracebacks / wrong exit / silent)
are printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.bad_input_cases import CASES, Case

CLI = [sys.executable, "-m", "eval_orchestrator.cli"]


def _registry(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for skill in (5, 9):
        src = base / f"src-{skill}"
        src.mkdir()
        (src / "skill.txt").write_text(str(skill))
        env = {**os.environ, "EVAL_ORCHESTRATOR_REGISTRY": str(base / "registry")}
        done = subprocess.run([*CLI, "registry", "add", str(src), "--name", "c"], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr
    return base / "registry"


def _attempt(case: Case, shared: Path, root: Path) -> tuple[Case, subprocess.CompletedProcess[str]]:
    root.mkdir(parents=True)
    registry = shared
    if case.setup is not None:
        registry = root / "registry"
        shutil.copytree(shared, registry)
        case.setup(root)
    env = {
        **os.environ,
        "EVAL_ORCHESTRATOR_REGISTRY": str(registry),
        "WANDB_ARTIFACT_DIR": str(root / "store"),
        "WANDB_DIR": str(root / "wb"),
        "INSPECT_LOG_DIR": str(root / "logs"),
        **case.env,
    }
    for name, value in case.env.items():
        if value and not os.path.isabs(value) and (root / value).exists():
            env[name] = str(root / value)  # a file of the case's own folder
    done = subprocess.run([*CLI, *case.args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    return case, done


def test_the_bad_input_corpus(tmp_path: Path) -> None:
    shared = _registry(tmp_path / "base")
    before = subprocess.run(
        [*CLI, "registry", "ls", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "EVAL_ORCHESTRATOR_REGISTRY": str(shared)},
    ).stdout
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ic: _attempt(ic[1], shared, tmp_path / f"case-{ic[0]}"), enumerate(CASES)))
    tally = {"tried": len(results), "clean": 0, "tracebacks": 0, "wrong exit": 0, "silent": 0}
    problems = []
    for case, done in results:
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        if "Traceback" in done.stderr or "Traceback" in done.stdout:
            tally["tracebacks"] += 1
        elif done.returncode == 0:
            tally["silent"] += 1
        elif done.returncode != case.code or len(errors) != 1 or case.fragment not in errors[0]:
            tally["wrong exit"] += 1
        else:
            tally["clean"] += 1
            continue
        problems.append(f"{case.name}: exit {done.returncode}, stderr {done.stderr[-600:]!r}")
    print(f"\nbad-input corpus: {tally}")
    assert len(CASES) >= 100
    assert not problems, "\n".join(problems)
    after = subprocess.run(
        [*CLI, "registry", "ls", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "EVAL_ORCHESTRATOR_REGISTRY": str(shared)},
    ).stdout
    assert after == before  # the shared registry is as it was: nothing half-written
    assert not list(shared.rglob(".add-*"))


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("add a source")], ids=lambda c: c.name)
def test_a_refused_add_leaves_no_collection_behind(tmp_path: Path, case: Case) -> None:
    shared = _registry(tmp_path / "base")
    _, done = _attempt(case, shared, tmp_path / "case")
    assert done.returncode == 2
    assert not (tmp_path / "case" / "registry" / "n").exists()
