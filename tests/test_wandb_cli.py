"""W&B references through the real CLI entry point, against the loopback W&B-protocol server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers.wandb_server import Server
from tests.test_cli import assert_one_line_error, cli
from tests.trees import read_tree

FILES = {"config.json": b'{"n_layer": 2}', "weights.bin": os.urandom(200_000)}
REPO = Path(__file__).resolve().parents[1]


def test_resolve_cold_then_warm(wandb_server: Server) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES, ("prod",), metadata={"lr": 0.1})
    cold = cli("resolve", "team/proj/tiny:prod", "--json")
    assert cold.returncode == 0, cold.stderr
    info = json.loads(cold.stdout)
    assert info["ref"] == "team/proj/tiny:v0" and info["aliases"] == ["latest", "prod"]
    assert info["metadata"] == {"lr": 0.1} and info["bytes_copied"] == info["bytes"] == 200_014
    assert read_tree(Path(info["path"])) == FILES
    warm = json.loads(cli("resolve", "team/proj/tiny:prod", "--json").stdout)
    assert warm["path"] == info["path"] and warm["bytes_copied"] == 0


def test_resolve_errors_are_one_line(wandb_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    assert_one_line_error(cli("resolve", "team/proj/tiny:prod"), "no version or alias 'prod' of 'tiny'")
    assert_one_line_error(cli("resolve", "nobody/proj/tiny:latest"), "in nobody/proj, or no such project there")
    monkeypatch.setenv("WANDB_API_KEY", "f1" * 20)
    assert_one_line_error(cli("resolve", "team/proj/tiny:latest"), "rejected the API key")


def test_resolve_skip_cache_flag_and_env(wandb_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.state.add_version("team", "proj", "tiny", FILES)
    info = json.loads(cli("resolve", "team/proj/tiny:latest", "--skip-cache", "--json").stdout)
    assert info["kept"] is False and not Path(info["path"]).exists()
    monkeypatch.setenv("WANDB_CACHE_SKIP", "true")
    info = json.loads(cli("resolve", "team/proj/tiny:latest", "--json").stdout)
    assert info["kept"] is False and info["bytes_copied"] == 200_014
    info = json.loads(cli("resolve", "team/proj/tiny:latest", "--keep-cache", "--json").stdout)  # the flag wins
    assert info["kept"] is True and Path(info["path"]).is_dir()


def _run_args(log_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "eval_orchestrator.cli",
        "run",
        "--checkpoint",
        "wandb-registry-model/tiny-gpt2:prod",
        "--task",
        str(REPO / "eval_orchestrator/tasks/capitals.py@capitals"),
        "--model",
        "hf/tiny-gpt2-{version}",
        "--wandb-mode",
        "offline",
        "--skip-cache",
        "--log-dir",
        str(log_dir),
        "--display",
        "none",
        "--json",
    ]


@pytest.mark.slow
def test_run_from_wandb_registry_with_skip_cache_and_sigterm(
    wandb_server: Server, tiny_hf_checkpoints: tuple[Path, Path], isolated_env: Path
) -> None:
    _, trained = tiny_hf_checkpoints
    files = read_tree(trained)
    wandb_server.state.add_version("acme-org", "wandb-registry-model", "tiny-gpt2", files, ("prod",))
    store = isolated_env / "store" / "checkpoints" / "tiny-gpt2"

    done = subprocess.run(_run_args(isolated_env / "logs"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["ref"] == "wandb-registry-model/tiny-gpt2:v0"
    assert outcome["metrics"]["includes/accuracy"] == 1.0
    assert "not kept after this run" in done.stderr
    assert list(store.iterdir()) == []  # WANDB_CACHE_SKIP: nothing left once the run ended

    # SIGTERM while the checkpoint is in use: the run stops and still removes it.
    proc = subprocess.Popen(_run_args(isolated_env / "logs2"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(store.glob("*/files/config.json")):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr and stderr.rstrip().endswith("terminated")
    assert list(store.iterdir()) == []


def test_sigterm_mid_download_stops_at_once_and_shows_no_checkpoint(wandb_server: Server, isolated_env: Path) -> None:
    many = {f"shard-{i:02d}.bin": os.urandom(4 * 1024 * 1024) for i in range(16)}
    wandb_server.state.add_version("team", "proj", "big", many)
    wandb_server.state.faults.chunk_delay = 0.1  # 640 KiB/s per file: each file takes over 6 s
    proc = subprocess.Popen(
        [sys.executable, "-m", "eval_orchestrator.cli", "resolve", "team/proj/big:latest"],
        stderr=subprocess.PIPE,
        text=True,
    )
    store = isolated_env / "store" / "checkpoints" / "big"
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in store.glob(".partial-*/files/*.bin")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    killed_at = time.monotonic()
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143, stderr
    # Files in flight stop at their next chunk, queued ones never start.
    assert time.monotonic() - killed_at < 2.5, "the download went on after SIGTERM"
    # Only the hidden partial dir stays, for the next run to resume; no checkpoint is visible.
    assert [p.name.startswith(".partial-") for p in store.iterdir()] == [True]
    assert len(wandb_server.state.file_gets) < len(many)

    wandb_server.state.faults.chunk_delay = 0
    again = subprocess.run(
        [sys.executable, "-m", "eval_orchestrator.cli", "resolve", "team/proj/big:latest", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert read_tree(Path(json.loads(again.stdout)["path"])) == many
    assert not any(p.name.startswith(".partial-") for p in store.iterdir())
