"""A prompt longer than the checkpoint's context is one line naming both numbers (not transformers'
bare IndexError); the quickstart's checkpoint is built with a 2,048-position context."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import invoke
from tests.test_cli import cli

LONG = f"{Path(__file__).parent / 'fixtures' / 'long_prompt_tasks.py'}@long_prompt"


@pytest.mark.slow
def test_a_prompt_past_the_context_says_so(isolated_env: Path) -> None:
    pytest.importorskip("transformers")
    from eval_orchestrator.tiny_checkpoint import build_checkpoint

    short = build_checkpoint(isolated_env / "short", positions=64)
    assert cli("registry", "add", str(short), "--name", "short").returncode == 0
    done = invoke("run", "--checkpoint", "local-registry/short",
         "--task", LONG, "--max-tokens", "8", "--display", "none")  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert "the checkpoint's context is 64 positions" in line and "max_tokens 8" in line
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_quickstart_checkpoint_reads_long_prompts(tiny_hf_checkpoints: tuple[Path, Path]) -> None:
    import json

    untrained, trained = tiny_hf_checkpoints
    for checkpoint in (untrained, trained):
        assert json.loads((checkpoint / "config.json").read_text())["n_positions"] == 2048
