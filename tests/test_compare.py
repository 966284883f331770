"""`compare` and `report` over real `.eval` logs, through the library and the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from eval_orchestrator.comparison.compare import CompareOptions, compare
from eval_orchestrator.comparison.report import collection_report
from eval_orchestrator.errors import UserError
from eval_orchestrator.registry.factory import local_registry
from tests.eval_logs import Epoch, write_log
from tests.test_cli import assert_one_line_error, cli


def _register(root: Path, name: str, versions: int) -> list[str]:
    """Register ``versions`` distinct small versions; their digests, in version order."""
    digests = []
    for v in range(versions):
        source = root / f"src-{name}-{v}"
        source.mkdir(parents=True)
        (source / "weights.bin").write_text(f"version {v}")
        digests.append(local_registry().add(str(source), name, [], {}, None).digest)
    return digests


def _log(root: Path, collection: str, version: str, digest: str, task: str, epochs: list[Epoch]) -> Path:
    return write_log(root / "logs" / collection / f"{version}-{digest[:12]}" / f"{task}.eval", task, epochs)


@pytest.fixture
def two_versions(isolated_env: Path) -> tuple[str, str]:
    return tuple(_register(isolated_env, "tiny", 2))  # type: ignore[return-value]


def test_pairs_by_sample_averages_epochs_and_excludes_errors(isolated_env: Path, two_versions: tuple[str, str]) -> None:
    base_digest, cand_digest = two_versions
    base = [Epoch(f"s{i}", e, {"acc": i % 2}) for i in range(10) for e in (1, 2)]  # s0..s9
    cand = [Epoch(f"s{i}", e, {"acc": 1}) for i in (0, 1, 2, 5, 6, 7, 8, 10) for e in (1, 2)]  # no s9; s10 new
    cand += [Epoch("s3", 1, error="boom"), Epoch("s3", 2, error="boom")]  # errored: left out, counted
    cand += [Epoch("s4", 1, {"acc": 0}), Epoch("s4", 2, error="boom")]  # one good epoch counts
    _log(isolated_env, "tiny", "v0", base_digest, "qa", base)
    _log(isolated_env, "tiny", "v1", cand_digest, "qa", cand)
    report = compare("local-registry/tiny:v0", "local-registry/tiny:v1", CompareOptions(log_dir="logs"))
    [row] = report.rows
    assert (row.task, row.metric, row.epochs) == ("qa", "acc", 2)
    assert row.n_paired == 8  # s0-s2, s4-s8: s3 errored, s9 baseline only, s10 candidate only
    assert (row.n_baseline_only, row.n_candidate_only) == (2, 1)  # s3 (errored on the candidate) and s9
    assert (row.baseline.errored, row.candidate.errored) == (0, 1)
    paired = [0, 1, 2, 4, 5, 6, 7, 8]
    expected = sum((0 if i == 4 else 1) - i % 2 for i in paired) / 8
    assert row.delta == pytest.approx(expected)
    assert row.baseline.n == 10 and row.candidate.n == 9
    assert row.method.startswith("paired t")  # two epochs: not McNemar


def test_dict_scores_are_one_metric_per_key_and_text_scores_are_skipped(
    isolated_env: Path, two_versions: tuple[str, str]
) -> None:
    for version, digest, good in (("v0", two_versions[0], "I"), ("v1", two_versions[1], "C")):
        epochs = [Epoch(f"s{i}", 1, {"d": {"utility": good, "security": "C"}, "text": "free text"}) for i in range(30)]
        _log(isolated_env, "tiny", version, digest, "agent", epochs)
    report = compare("local-registry/tiny:v0", "local-registry/tiny:latest", CompareOptions(log_dir="logs"))
    rows = {row.metric: row for row in report.rows}
    assert set(rows) == {"d/security", "d/utility"}
    assert rows["d/utility"].verdict == "better" and rows["d/utility"].method.startswith("exact McNemar")
    assert rows["d/utility"].p_value == pytest.approx(2 * 0.5**30)
    assert rows["d/security"].delta == 0 and rows["d/security"].verdict == "no detectable difference"
    assert report.candidate.version == "v1"  # :latest resolved, no bytes fetched
    assert any("scorer 'text' skipped" in note for note in report.notes)


def test_missing_logs_and_bad_options_are_user_errors(isolated_env: Path, two_versions: tuple[str, str]) -> None:
    with pytest.raises(UserError, match=r"no Inspect logs for local-registry/tiny:v0 under logs/.*--from-wandb"):
        compare("local-registry/tiny:v0", "local-registry/tiny:v1", CompareOptions(log_dir="logs"))
    with pytest.raises(ValidationError, match=r"alpha"):
        compare("local-registry/tiny:v0", "local-registry/tiny:v1", CompareOptions(alpha=1.5))
    assert_one_line_error(
        cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v9"), "version v9 of 'tiny' not found"
    )


def _clustered_logs(root: Path, digests: list[str], deltas: list[float]) -> None:
    """60 questions on 6 passages; version k adds deltas[k] to every score of half the passages."""
    for k, (digest, delta) in enumerate(zip(digests, deltas, strict=True)):
        epochs = [
            Epoch(
                f"q{i}",
                1,
                {"score": 0.5 + (delta if (i // 10) % 2 else 0.0) + 0.01 * (i % 10)},
                None,
                {"passage": f"p{i // 10}"},
            )
            for i in range(60)
        ]
        _log(root, "tiny", f"v{k}", digest, "reading", epochs)


def test_compare_through_the_cli_json_gate_plot_and_clusters(isolated_env: Path) -> None:
    digests = _register(isolated_env, "tiny", 2)
    _clustered_logs(isolated_env, digests, [0.0, -0.1])  # v1 is worse on half the passages
    args = ["compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--log-dir", "logs"]
    plain = cli(*args, "--json", "--plot", "forest.png")
    assert plain.returncode == 0, plain.stderr
    [row] = json.loads(plain.stdout)
    for key in (
        "task",
        "metric",
        "baseline",
        "candidate",
        "n_paired",
        "n_baseline_only",
        "n_candidate_only",
        "delta",
        "delta_stderr",
        "ci",
        "p_value",
        "p_adjusted",
        "correlation",
        "mde",
        "verdict",
        "method",
    ):
        assert key in row, key
    assert set(row["baseline"]) >= {"ref", "version", "digest", "mean", "stderr", "n"}
    assert row["verdict"] == "worse" and row["delta"] == pytest.approx(-0.05)
    assert (isolated_env / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli(*args, "--json", "--plot", "forest.png").stdout == plain.stdout  # seeded: identical output
    clustered = json.loads(cli(*args, "--json", "--cluster", "passage").stdout)[0]
    assert clustered["clusters"] == 6
    assert clustered["delta_stderr"] > 3 * row["delta_stderr"]  # passages share their shift
    gate = cli(*args, "--fail-on-regression")
    assert_one_line_error(gate, "held by the gate: reading/score (worse)", code=3)
    assert "reading" in gate.stdout and "worse" in gate.stdout  # the table still prints
    lenient = cli(*args, "--fail-on-regression", "--margin", "0.2", "--json")
    assert lenient.returncode == 0 and json.loads(lenient.stdout)[0]["verdict"] == "worse"


def test_report_over_three_versions(isolated_env: Path) -> None:
    digests = _register(isolated_env, "tiny", 3)
    _clustered_logs(isolated_env, digests, [0.0, 0.2, 0.1])
    report = collection_report("tiny", "logs")
    assert report.versions == ["v0", "v1", "v2"]
    cells = {cell.version: cell for cell in report.cells}
    assert [cell.version for cell in report.cells if cell.best] == ["v1"]
    assert cells["v1"].mean == pytest.approx(cells["v0"].mean + 0.1)
    assert cells["v0"].ci[0] < cells["v0"].mean < cells["v0"].ci[1]
    done = cli("report", "tiny", "--log-dir", "logs", "--json", "--plot", "history.png")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["versions"] == ["v0", "v1", "v2"]
    assert (isolated_env / "history.png").stat().st_size > 1000
    table = cli("report", "local-registry/tiny", "--log-dir", "logs")
    assert "reading · score" in table.stdout and "*" in table.stdout
    assert_one_line_error(cli("report", "nothing", "--log-dir", "logs"), "no evaluated versions of 'nothing'")
