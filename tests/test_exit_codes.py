"""The exit-code contract, through the real entry point: a scheduler (cron, Determined, a watch
loop) must tell "fix your input" (2) from "retry later" (75) from "the bytes are wrong" (65)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import assert_one_line_error, cli


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("EvalFailed", 1),
        ("UserError", 2),
        ("ConfigError", 2),
        ("RefError", 2),
        ("RegistryError", 2),
        ("StoreError", 2),
        ("SpoolError", 2),
        ("GateFailed", 3),
        ("VerificationFailed", 65),
        ("Unavailable", 75),
    ],
)
def test_each_error_class_exits_with_its_code(name: str, code: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.interrupt_probe", "raise", name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert_one_line_error(done, f"{name} raised by the probe", code=code)


def test_a_typo_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("checkpoints: [local-registry/tiny:v0]\ntasks: [{spec: t.py@t}]\ninspect: {limt: 3}\n")
    assert_one_line_error(cli("run", "--config", str(config)), "unknown key 'inspect.limt'", code=2)


def test_w_and_b_unreachable_while_resolving_exits_75(unreachable_wandb: str) -> None:
    assert_one_line_error(cli("resolve", "team/proj/tiny:latest"), f"cannot reach W&B at {unreachable_wandb}", code=75)


def test_a_corrupted_source_exits_with_the_verification_code(checkpoint_dir: Path, isolated_env: Path) -> None:
    assert cli("registry", "add", str(checkpoint_dir), "--name", "tiny").returncode == 0
    weights = isolated_env / "registry/tiny/versions/v0/files/weights.bin"
    data = bytearray(weights.read_bytes())
    data[7] ^= 0xFF  # same size, other bytes: only the digest can tell
    weights.write_bytes(bytes(data))
    assert_one_line_error(
        cli("resolve", "local-registry/tiny:v0"), "'weights.bin' of tiny:v0 does not match its manifest digest", code=65
    )
    assert not any((isolated_env / "store/checkpoints/tiny").iterdir())  # nothing kept
