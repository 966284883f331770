"""Every option declared in `cli/options.py` reaches the config key it names: each flag is set alone
on `run` (and the gate's on `compare`), and the config the command built is read back. A flag added
to the spec without a key, or with a key that drops its value, fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eval_orchestrator.cli import main
from eval_orchestrator.cli.options import GATE_FLAGS, Flag
from eval_orchestrator.cli.run import RUN

# Options the command uses itself rather than as one config key, each with the test that covers it.
HANDLED = {
    "config_file": "the YAML itself (test_config.py)",
    "lock_file": "test_lock.py",
    "secrets": "test_secrets.py: --secret joins the config's secrets",
    "tasks": "below: --task with -T",
    "generate_config": "below: a file of generate settings, under the generation flags",
    "solver_config": "below: a file of solver args, under -S",
    "task_args": "below: --task with -T",
    "model_args": "test_config.py: -M adds to the config's model args",
    "as_json": "test_json_outputs.py",
}


def _at(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = getattr(tree, key) if not isinstance(tree, dict) else tree[key]
    return tree


class Captured(BaseException):
    """Not an Exception: it passes through the CLI's error handling, as nothing of ours raises it."""


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`run` stops where it would start work, with the config it built."""
    seen: dict[str, Any] = {}

    def stop(config: Any, **_: Any) -> None:
        seen["config"] = config
        raise Captured

    monkeypatch.setattr("eval_orchestrator.orchestrate.run", stop)
    return seen


BASE = ("run", "--checkpoint", "local-registry/c:v0", "--task", "t.py@t")


def test_every_run_option_has_a_key_and_an_example_or_is_handled() -> None:
    unplaced = [f.name for f in RUN if (f.path is None or f.example is None) and f.name not in HANDLED]
    assert unplaced == []
    assert len({f.name for f in RUN}) == len(RUN)  # no option declared twice


@pytest.mark.parametrize("flag", [f for f in RUN if f.path and f.example], ids=lambda f: f.decls[0])
def test_each_run_option_reaches_its_config_key(flag: Flag, captured: dict[str, Any], tmp_path: Path) -> None:
    assert flag.example is not None and flag.path is not None
    args, expected = flag.example
    base = BASE if flag.name != "checkpoints" else ("run", "--task", "t.py@t")
    with pytest.raises(Captured):
        CliRunner().invoke(main, [*base, *args])
    value = _at(captured["config"], flag.path)
    if flag.path == ("checkpoints",):
        value = [str(ref) for ref in value]
    assert value == expected


def test_a_generate_config_file_is_the_base_the_generation_flags_override(
    captured: dict[str, Any], tmp_path: Path
) -> None:
    settings = tmp_path / "generate.yaml"
    settings.write_text("max_tokens: 64\ntemperature: 0.2\n")
    with pytest.raises(Captured):
        CliRunner().invoke(main, [*BASE, "--generate-config", str(settings), "--max-tokens", "8"])
    assert captured["config"].model.generate == {"max_tokens": 8, "temperature": 0.2}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--generate-config", "nope.yaml"), "--generate-config 'nope.yaml' cannot be read"),
        (("--sample-shuffle", "often"), "--sample-shuffle 'often': give true, false or an integer"),
        (("--metadata", "team"), "--metadata 'team' is not KEY=VALUE"),
        (("--logit-bias", "a=b"), "--logit-bias 'a=b' is not TOKEN_ID=BIAS pairs"),
        (("--extra-body", "[1]"), "--extra-body must be a JSON or YAML mapping"),
    ],
)
def test_unreadable_option_values_are_one_line(args: tuple[str, ...], fragment: str) -> None:
    from tests.test_cli import assert_one_line_error, cli

    assert_one_line_error(cli(*BASE, *args), fragment)


def test_a_solver_config_file_is_the_base_the_s_args_override(captured: dict[str, Any], tmp_path: Path) -> None:
    settings = tmp_path / "solver.yaml"
    settings.write_text("attempts: 2\nprompt: be brief\n")
    args = ["--solver", "s.py@agent", "--solver-config", str(settings), "-S", "attempts=5"]
    with pytest.raises(Captured):
        CliRunner().invoke(main, [*BASE, *args])
    assert captured["config"].inspect.solver_args == {"attempts": 5, "prompt": "be brief"}


@pytest.mark.parametrize(
    ("args", "path", "expected"),
    [
        (("--sample-shuffle",), ("inspect", "sample_shuffle"), True),
        (("--sample-shuffle", "1"), ("inspect", "sample_shuffle"), True),  # Inspect: 1 is true, not seed 1
        (("--sample-shuffle", "0"), ("inspect", "sample_shuffle"), None),  # ... and 0 is off
        (("--retry-on-error",), ("inspect", "retry_on_error"), 1),
        (("--retry-on-error", "0"), ("inspect", "retry_on_error"), None),
        (("--log-shared",), ("inspect", "log_shared"), 10),
        (("--notification", "0"), ("inspect", "notification"), None),
        (("--notification", "1"), ("inspect", "notification"), True),
    ],
)
def test_flag_or_number_options_read_as_inspect_reads_them(
    args: tuple[str, ...], path: tuple[str, ...], expected: Any, captured: dict[str, Any]
) -> None:
    with pytest.raises(Captured):
        CliRunner().invoke(main, [*BASE, *args])
    assert _at(captured["config"], path) == expected


def test_task_args_go_with_the_task_specs(captured: dict[str, Any]) -> None:
    with pytest.raises(Captured):
        CliRunner().invoke(main, [*BASE, "-T", "n=3", "-T", "lang=fr"])
    [task] = captured["config"].tasks
    assert (task.spec, task.args) == ("t.py@t", {"n": 3, "lang": "fr"})


@pytest.mark.parametrize("flag", GATE_FLAGS, ids=lambda f: f.decls[0])
def test_each_gate_option_reaches_the_compare_options(flag: Flag, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def stop(base: Any, cand: Any, options: Any, **_: Any) -> None:
        seen["options"] = options
        raise Captured

    monkeypatch.setattr("eval_orchestrator.comparison.compare.compare", stop)
    assert flag.example is not None and flag.path is not None
    args, expected = flag.example
    with pytest.raises(Captured):
        CliRunner().invoke(main, ["compare", "local-registry/c:v0", "local-registry/c:v1", *args])
    assert _at(seen["options"], flag.path) == expected
