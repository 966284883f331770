"""The bad-input corpus (tests/bad_input_cases.py) through the real CLI (its command group, in this
process: the corpus tests what the commands do with bad input, not the interpreter): every case must
exit non-zero with the taxonomy's code and exactly one `error:` line, with no traceback, and leave the
registry and the store as they were. The counts (tried / clean / tracebacks / wrong exit / silent)
are printed."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.bad_input_cases import CASES as FIRST
from tests.bad_input_cases import Case
from tests.cli import Completed, invoke
from tests.hostile_cases import HOSTILE_CASES

CLI = [sys.executable, "-m", "eval_orchestrator.cli"]


def _registry(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for skill in (5, 9):
        src = base / f"src-{skill}"
        src.mkdir()
        (src / "skill.txt").write_text(str(skill))
        done = invoke(
            "registry", "add", str(src), "--name", "c", env={"EVAL_ORCHESTRATOR_REGISTRY": str(base / "registry")}
        )
        assert done.returncode == 0, done.stderr
    return base / "registry"


def _attempt(case: Case, shared: Path, root: Path) -> tuple[Case, Completed]:
    root.mkdir(parents=True)
    registry = shared
    if case.setup is not None:
        registry = root / "registry"
        shutil.copytree(shared, registry)
        case.setup(root)
    env = {
        "EVAL_ORCHESTRATOR_REGISTRY": str(registry),
        "WANDB_ARTIFACT_DIR": str(root / "store"),
        "WANDB_DIR": str(root / "wb"),
        "INSPECT_LOG_DIR": str(root / "logs"),
        **case.env,
    }
    for name, value in case.env.items():
        if value and not os.path.isabs(value) and (root / value).exists():
            env[name] = str(root / value)  # a file of the case's own folder
    return case, invoke(*case.args, env=env, cwd=root)


CASES = [*FIRST, *HOSTILE_CASES]


def _corpus(cases: list[Case], tmp_path: Path) -> None:
    shared = _registry(tmp_path / "base")
    before = invoke("registry", "ls", "--json", env={"EVAL_ORCHESTRATOR_REGISTRY": str(shared)}).stdout
    results = [_attempt(case, shared, tmp_path / f"case-{index}") for index, case in enumerate(cases)]
    tally = {"tried": len(results), "clean": 0, "tracebacks": 0, "wrong exit": 0, "silent": 0}
    problems = []
    for case, done in results:
        errors = [line for line in done.stderr.splitlines() if line.startswith(("error: ", "decision: ", "refused: "))]
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
    assert not problems, "\n".join(problems)
    after = invoke("registry", "ls", "--json", env={"EVAL_ORCHESTRATOR_REGISTRY": str(shared)}).stdout
    assert after == before  # the shared registry is as it was: nothing half-written
    assert not list(shared.rglob(".add-*"))


def test_the_bad_input_corpus(tmp_path: Path) -> None:
    cases = [case for case in CASES if case.venv == "main"]
    assert len(cases) >= 250
    _corpus(cases, tmp_path)


@pytest.mark.determined
def test_the_bad_input_corpus_of_the_determined_venv(tmp_path: Path) -> None:
    """The Determined commands with the SDK installed, and what is refused where inspect-wandb is not."""
    cases = [case for case in CASES if case.venv == "determined"]
    assert len(cases) >= 10
    _corpus(cases, tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("add a source")], ids=lambda c: c.name)
def test_a_refused_add_leaves_no_collection_behind(tmp_path: Path, case: Case) -> None:
    shared = _registry(tmp_path / "base")
    _, done = _attempt(case, shared, tmp_path / "case")
    assert done.returncode == 2
    assert not (tmp_path / "case" / "registry" / "n").exists()
