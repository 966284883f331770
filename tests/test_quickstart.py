"""The first hour, run as a new user would: `scripts/quickstart.sh` in a copy of the repository (its
checkpoints pre-built, the rest real: registry, hf/ evals, compare), then the commands it prints
(`scripts/quickstart_next.sh`) and the README blocks marked `<!-- tested: ... -->`, verbatim, with none
of our variables set: only the .env the quickstart wrote says where its registry, store and W&B dir are."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- tested: tests/test_quickstart.py -->"
OURS = re.compile(r"^(EVAL_ORCHESTRATOR_|WANDB_|INSPECT_|HF_|TRANSFORMERS_)")


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of each README block right after the marker."""
    text = (REPO / "README.md").read_text()
    found = re.findall(re.escape(MARKER) + r"\n```(\w+)\n(.*?)\n```", text, flags=re.S)
    assert len(found) >= 2, "the README's tested blocks are gone"
    return [(language, code) for language, code in found]


def _shell_lines(code: str) -> list[str]:
    """The commands of a bash block (continuation lines joined)."""
    joined = code.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.fixture
def fresh_clone(tmp_path: Path, tiny_hf_checkpoints: tuple[Path, Path]) -> tuple[Path, dict[str, str]]:
    """A copy of what the quickstart uses, the venv linked in, the checkpoints built; and an
    environment with none of our variables (HOME a new folder: no user dirs of the developer's)."""
    root = tmp_path / "repo"
    for part in ("scripts", "configs"):
        shutil.copytree(REPO / part, root / part)
    # The package too: in a clone it is what `python` in the root imports (and the task file lives in it).
    shutil.copytree(
        REPO / "eval_orchestrator", root / "eval_orchestrator", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / ".venv").symlink_to(Path(sys.prefix))
    untrained, trained = tiny_hf_checkpoints
    shutil.copytree(untrained, root / ".quickstart" / "build" / "untrained")
    shutil.copytree(trained, root / ".quickstart" / "build" / "trained")
    environ = {k: v for k, v in os.environ.items() if not OURS.match(k)}
    environ.update(HOME=str(tmp_path / "home"), PATH=f"{Path(sys.prefix) / 'bin'}:{environ.get('PATH', '')}")
    return root, environ


def test_quickstart_then_its_next_commands_and_the_readme_verbatim(fresh_clone: tuple[Path, dict[str, str]]) -> None:
    root, environ = fresh_clone

    def sh(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], cwd=root, env=environ, capture_output=True, text=True,
                              timeout=600)  # fmt: skip

    quick = sh("bash scripts/quickstart.sh")
    assert quick.returncode == 0, quick.stderr[-3000:]
    assert "wrote .env" in quick.stdout and "== next" in quick.stdout
    env_file = (root / ".env").read_text()
    assert f"EVAL_ORCHESTRATOR_REGISTRY={root / '.quickstart' / 'registry'}" in env_file
    nexts = _shell_lines((root / "scripts" / "quickstart_next.sh").read_text())
    assert len(nexts) == 3 and all(f"  {line}" in quick.stdout for line in nexts)  # printed as they run

    outputs = []
    for line in nexts:
        done = sh(line)
        assert done.returncode == 0, (line, done.stderr[-3000:])
        outputs.append(done.stdout)
    assert "local-registry/tiny-gpt2:v0" in outputs[0] and "local-registry/tiny-gpt2:v1" in outputs[0]
    assert "better" in outputs[2]

    for language, code in readme_blocks():
        if language == "bash":
            for line in _shell_lines(code):
                done = sh(line)
                assert done.returncode == 0, (line, done.stderr[-3000:])
        else:
            done = subprocess.run([sys.executable, "-c", code], cwd=root, env=environ, capture_output=True, text=True,
                                  timeout=600)  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
            assert "tiny-gpt2:v1 capitals success" in done.stdout
    history = sh(".venv/bin/eval-orchestrator registry history my-model")
    assert "prod -> v0" in history.stdout and "beats tiny-gpt2 v0" in history.stdout
    home = Path(environ["HOME"])  # our registry and store went where .env says, not to the user dirs
    assert not list(home.rglob("eval-orchestrator")) and not (root / "registry").exists()
