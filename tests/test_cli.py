"""The CLI through its real entry point: one-line errors with exit 2, resolve, registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval_orchestrator.cli import main
from tests.cli import Completed, invoke


def cli(*args: str, env: dict[str, str] | None = None) -> Completed:
    """The CLI in this process (tests/cli.py): the logic, without 4-6 s of imports per call."""
    return invoke(*args, env=env)


def assert_one_line_error(result: Completed, fragment: str, code: int = 2) -> None:
    """One `error:` line on stderr naming ``fragment``, no traceback, and the taxonomy's exit ``code``."""
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    # A gate's hold is a decision, and an alias move it refuses says so; everything else is an error.
    assert lines[0].startswith(("decision: ", "refused: ") if code == 3 else "error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_commands_without_heavy_imports() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "resolve", "registry", "config"):
        assert command in result.stdout
    # --help stays fast by importing no heavy library (measured, not timed, here).
    probe = (
        "import sys, eval_orchestrator.cli; print([m for m in ('inspect_ai', 'wandb', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_bad_ref_is_one_line_exit_2() -> None:
    assert_one_line_error(
        cli("run", "--checkpoint", "nope:v1", "--task", "t.py@t"), "invalid checkpoint reference 'nope:v1'"
    )
    assert_one_line_error(cli("resolve", "local-registry/x y"), "invalid checkpoint reference")


def test_unknown_config_key_is_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("checkpoints: [local-registry/tiny:v0]\ntasks: [{spec: t.py@t}]\nwandb: {projcet: x}\n")
    assert_one_line_error(cli("run", "--config", str(config)), "unknown key 'wandb.projcet'")


def test_missing_task_is_one_line_exit_2(checkpoint_dir: Path) -> None:
    assert cli("registry", "add", str(checkpoint_dir), "--name", "tiny").returncode == 0
    result = cli("run", "--checkpoint", "local-registry/tiny:v0", "--task", "no_such_file.py@nothing")
    assert_one_line_error(result, "task 'no_such_file.py@nothing' could not be loaded")


def test_unknown_collection_is_one_line_exit_2() -> None:
    assert_one_line_error(cli("resolve", "local-registry/ghost:latest"), "collection 'ghost' not found")


def test_registry_add_ls_alias_and_resolve_json(checkpoint_dir: Path, isolated_env: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "registry",
            "add",
            str(checkpoint_dir),
            "--name",
            "tiny",
            "--alias",
            "prod",
            "--metadata",
            "step=100",
            "--metadata",
            "note=first",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "local-registry/tiny:v0" in added.output
    runner.invoke(main, ["registry", "add", str(checkpoint_dir), "--name", "tiny"])

    listing = json.loads(runner.invoke(main, ["registry", "ls", "tiny", "--json"]).output)
    assert [(r["version"], r["aliases"]) for r in listing] == [("v0", ["prod"]), ("v1", ["latest"])]
    moved = runner.invoke(main, ["registry", "alias", "local-registry/tiny:v1", "prod"])
    assert moved.exit_code == 0 and "prod -> local-registry/tiny:v1" in moved.output

    first = runner.invoke(main, ["resolve", "local-registry/tiny:v0", "--json"])
    assert first.exit_code == 0, first.output
    info = json.loads(first.stdout)
    assert set(info) == {
        *("ref", "version", "digest", "aliases", "metadata", "path", "files", "bytes"),
        *("bytes_copied", "in_place", "kept"),
    }
    assert info["bytes_copied"] == info["bytes"] and info["kept"] and not info["in_place"]
    assert info["ref"] == "local-registry/tiny:v0"
    assert info["metadata"] == {"step": 100, "note": "first"}  # values typed like -T
    assert info["files"] == 3
    assert Path(info["path"]).is_relative_to(isolated_env / "store")
    assert (Path(info["path"]) / "sub/tokenizer.json").read_text() == '{"vocab": {}}'

    human = runner.invoke(main, ["resolve", "local-registry/tiny:v0"])
    assert "already in the store, nothing copied" in human.output


def test_config_schema_prints_json() -> None:
    result = CliRunner().invoke(main, ["config", "schema"])
    assert result.exit_code == 0
    assert "checkpoints" in json.loads(result.output)["properties"]


def test_bad_task_arg_syntax() -> None:
    assert_one_line_error(
        cli("run", "--checkpoint", "local-registry/t:v0", "--task", "x.py@x", "-T", "novalue"),
        "-T 'novalue' is not key=value",
    )


@pytest.mark.slow
def test_run_on_tiny_hf_checkpoint(tiny_hf_checkpoints: tuple[Path, Path], isolated_env: Path) -> None:
    """The quickstart's path through hf/: v1 (trained on the task) scores above v0 (untrained)."""
    untrained, trained = tiny_hf_checkpoints
    assert cli("registry", "add", str(untrained), "--name", "tiny-gpt2").returncode == 0
    assert cli("registry", "add", str(trained), "--name", "tiny-gpt2").returncode == 0
    repo = Path(__file__).resolve().parents[1]
    result = cli(
        "run",
        "--config",
        str(repo / "configs/quickstart.yaml"),
        "--task",
        str(repo / "eval_orchestrator/tasks/capitals.py@capitals"),
        "--log-dir",
        str(isolated_env / "logs"),
        "--display",
        "none",
        "--json",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcomes = {o["version"]: o for o in json.loads(result.stdout)}
    assert outcomes["v0"]["status"] == outcomes["v1"]["status"] == "success"
    assert outcomes["v1"]["metrics"]["includes/accuracy"] > outcomes["v0"]["metrics"]["includes/accuracy"]
    assert "logging offline" in result.stderr
    for noise in ("Loading weights", "loss_type", "it/s]"):  # transformers' bars and warnings: off by default
        assert noise not in result.stderr and noise not in result.stdout, noise


def _probe(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.interrupt_probe", command],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )


def test_interrupt_inside_a_string_exec_still_exits_143() -> None:
    # CPython would otherwise kill `python -m` with SIGINT at exit (returncode -2), which made a
    # SIGTERM test flaky: it depended on whether the signal landed inside a string exec.
    done = _probe("interrupted-in-exec")
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip() == "terminated"


def test_sigterm_inside_an_import_waits_for_the_import_to_end() -> None:
    # CI once saw SIGABRT (returncode -6) when SIGTERM cut `import torch` short: torch stayed
    # half-registered, and importing it again fails ("duplicate registrations").
    done = _probe("sigterm-inside-import")
    assert done.returncode == 143, done.stderr[-2000:]
    assert done.stderr.splitlines()[-2:] == ["torch fully imported: True", "terminated"]


def test_sigterm_inside_a_finalizer_is_not_lost() -> None:
    # Raised inside `__del__`, the KeyboardInterrupt was printed as "Exception ignored" and
    # dropped, and the eval ran to the end with exit 0.
    done = _probe("sigterm-inside-del")
    assert done.returncode == 143, done.stderr[-2000:]
    assert done.stderr.strip() == "terminated"


def test_preemption_inside_an_import_waits_for_the_import_to_end() -> None:
    done = _probe("preempt-inside-import")
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stderr.splitlines()[-2:] == ["torch fully imported: True", "interrupted"]


def test_preemption_lands_even_when_sigint_was_ignored_by_whoever_started_us() -> None:
    # A process a shell starts in the background (or nohup) inherits SIGINT ignored; the preemption
    # watcher interrupts with SIGINT, so it enables the handler for its own time.
    import signal

    done = subprocess.run(
        [sys.executable, "-m", "tests.interrupt_probe", "preempt-inside-import"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stderr.splitlines()[-2:] == ["torch fully imported: True", "interrupted"]
