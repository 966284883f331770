"""The gate fails closed: what it cannot measure holds the candidate, and a margin that would pass
anything is refused. Real `.eval` logs (Inspect's own recorder), through the CLI and the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval_orchestrator.comparison.compare import CompareOptions, compare
from tests.eval_logs import Epoch, write_log
from tests.test_cli import assert_one_line_error, cli
from tests.test_compare import _register

ARGS = ("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--log-dir", "logs")


def _log(root: Path, version: str, digest: str, task: str, epochs: list[Epoch]) -> None:
    write_log(root / "logs" / "tiny" / f"{version}-{digest[:12]}" / f"{task}.eval", task, epochs)


@pytest.fixture
def versions(isolated_env: Path) -> list[str]:
    digests = _register(isolated_env, "tiny", 2)
    _log(isolated_env, "v0", digests[0], "qa", [Epoch(f"s{i}", 1, {"acc": i % 2}) for i in range(40)])
    return digests


def _held(done: object, why: str) -> None:
    """Exit 3 with one `error:` line, and the row says why: not compared, held."""
    assert_one_line_error(done, "held by the gate", code=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "candidate", "why"),
    [
        ("no samples", [], "the candidate has no scored sample"),
        ("every sample errored", [Epoch(f"s{i}", 1, error="boom") for i in range(40)], "no scored sample (40 errored)"),
        ("no id in common", [Epoch(f"x{i}", 1, {"acc": 1}) for i in range(40)], "0 paired sample(s)"),
    ],
)
def test_a_candidate_that_cannot_be_compared_is_held(
    isolated_env: Path, versions: list[str], case: str, candidate: list[Epoch], why: str
) -> None:
    _log(isolated_env, "v1", versions[1], "qa", candidate)
    report = compare("local-registry/tiny:v0", "local-registry/tiny:v1", CompareOptions(log_dir="logs"))
    [row] = report.rows
    assert (row.verdict, row.gate, report.gate) == ("not compared", "held", "held"), case
    assert why in row.method
    done = cli(*ARGS, "--fail-on-regression", "--json")
    assert_one_line_error(done, "held by the gate: qa/acc (not compared)", code=3)
    assert json.loads(done.stdout)[0]["gate"] == "held" and json.loads(done.stdout)[0]["verdict"] == "not compared"
    assert cli(*ARGS, "--json").returncode == 0  # no gate asked for: a comparison, exit 0


def test_a_task_the_candidate_lacks_is_held(isolated_env: Path, versions: list[str]) -> None:
    _log(isolated_env, "v1", versions[1], "other", [Epoch(f"s{i}", 1, {"acc": 1}) for i in range(40)])
    report = compare("local-registry/tiny:v0", "local-registry/tiny:v1", CompareOptions(log_dir="logs"))
    rows = {row.task: row for row in report.rows}
    assert set(rows) == {"qa", "other"} and report.gate == "held"
    assert "the candidate has no successful log of qa" in rows["qa"].method
    assert "the baseline has no successful log of other" in rows["other"].method
    assert cli(*ARGS, "--fail-on-regression").returncode == 3


def test_a_candidate_compared_on_every_task_passes(isolated_env: Path, versions: list[str]) -> None:
    _log(isolated_env, "v1", versions[1], "qa", [Epoch(f"s{i}", 1, {"acc": 1}) for i in range(40)])
    done = cli(*ARGS, "--fail-on-regression", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["gate"] == "passed"


@pytest.mark.parametrize("margin", ["nan", "inf", "-inf", "-0.1"])
def test_a_margin_that_is_not_a_finite_non_negative_number_is_refused(versions: list[str], margin: str) -> None:
    assert_one_line_error(cli(*ARGS, "--fail-on-regression", "--margin", margin), "margin")


def test_a_margin_as_wide_as_the_metric_is_refused(isolated_env: Path, versions: list[str]) -> None:
    # The candidate is far worse: a margin of 5 on an accuracy would pass it.
    _log(isolated_env, "v1", versions[1], "qa", [Epoch(f"s{i}", 1, {"acc": 0}) for i in range(40)])
    for margin in ("5", "1"):
        done = cli(*ARGS, "--fail-on-regression", "--margin", margin)
        assert_one_line_error(done, f"--margin {margin} is not below the range of qa/acc (1")
    assert cli(*ARGS, "--fail-on-regression", "--margin", "0.05").returncode == 3  # a real margin: held
