"""W&B Reports through the pinned wandb-workspaces, against the loopback W&B-protocol server (which
answers only the GraphQL wandb-workspaces sends, and fails on anything else): saved online, and
offline then saved once by `sync`; the saved spec read back (title, block order, run sets, panels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval_orchestrator.spool import REPORTS_FILE, SPOOL_DIR
from tests.eval_logs import Epoch
from tests.servers.wandb_server import Server
from tests.servers.wandb_views import View
from tests.test_cli import cli
from tests.test_compare import _log, _register
from tests.test_flips import _pair

ONLINE = ("--wandb-mode", "online", "--wandb-project", "evals", "--wandb-entity", "team")
OFFLINE = ("--wandb-mode", "offline", "--wandb-project", "evals", "--wandb-entity", "team")
# What a comparison's Report costs: one project lookup per run set (3), the project listing, the
# upsert, and a viewer lookup for each wandb.Api() wandb-workspaces opens (one per step, and two for
# the URL: its own log line, and ours).
REPORT_REQUESTS = [*["Viewer", "ProjectInternalId"] * 3, "Viewer", "GetProjects", "Viewer", "upsertView", "Viewer",
                   "Viewer"]  # fmt: skip


def _text(node: Any) -> str:
    """All the text under a spec node (Slate-style children)."""
    if isinstance(node, dict):
        return str(node.get("text", "")) + "".join(_text(child) for child in node.get("children", []))
    if isinstance(node, list):
        return "".join(_text(child) for child in node)
    return ""


def _headings(view: View) -> list[str]:
    return [_text(block) for block in view.blocks if block.get("type") == "heading"]


def _markdown(view: View) -> list[str]:
    return [str(block.get("content", "")) for block in view.blocks if block.get("type") == "markdown-block"]


def _runset_filters(view: View) -> list[str]:
    grids = [block for block in view.blocks if block.get("type") == "panel-grid"]
    return [json.dumps(rs.get("filters")) for grid in grids for rs in grid["metadata"]["runSets"]]


def _read_back(url: str) -> Any:
    import wandb_workspaces.reports.v2 as wr

    return wr.Report.from_url(url)


def _sync() -> dict[str, Any]:
    """`sync --json`: the hand-made logs have no results artifacts in W&B, so the comparison's lineage
    cannot be replayed (exit 75, retried by a later sync); everything else is done."""
    synced = cli("sync", "--json")
    report: dict[str, Any] = json.loads(synced.stdout)
    assert synced.returncode == 75 and all("tiny-qa-results" in why for why in report["failed"]), synced.stderr
    return report


def test_compare_saves_a_report_online_and_its_spec_reads_back(wandb_server: Server, isolated_env: Path) -> None:
    _pair(isolated_env)
    state = wandb_server.state
    done = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--cluster", "passage",
               "--wandb-report", "--json", *ONLINE)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    [row] = out["rows"]
    url = out["report"]["url"]
    assert url and url.startswith(f"{wandb_server.url}/team/evals/reports/") and f"W&B Report: {url}" in done.stderr
    [view] = state.views.by_id.values()
    assert (view.entity, view.project, view.type) == ("team", "evals", "runs")
    assert view.display_name == "tiny: v1 vs v0"
    headings = _headings(view)
    assert headings[:2] == ["Regressed samples", "Per task"]  # the regressed samples come first
    assert headings == ["Regressed samples", "Per task", "Forest plot and flips", "Eval runs",
                        "Artifacts and Inspect logs"]  # fmt: skip
    markdown = _markdown(view)
    regressed = markdown[1]
    assert regressed.index("| qa/acc | s02 |") < regressed.index("| qa/acc | s05 |")  # largest drop first
    assert "v0 answer s02" in regressed and "v1 answer s02" in regressed and "s03" not in regressed
    assert "| qa | acc |" in markdown[2] and f"{row['verdict']}" in markdown[2] and "+3 / -2" in markdown[2]
    assert "tiny-qa-results:tiny-v0" in markdown[3] and "inspect view --log-dir" in markdown[3]
    filters = " ".join(_runset_filters(view))
    for digest in (row["baseline"]["digest"], row["candidate"]["digest"]):
        assert digest in filters  # the comparison run and both versions' eval runs
    start = state.operations.index("ProjectInternalId") - 1
    assert state.operations[start:] == REPORT_REQUESTS  # what the Report cost, and nothing after it

    report = _read_back(url)  # what W&B holds, through wandb-workspaces' own reader
    assert report.title == "tiny: v1 vs v0"
    kinds = [type(block).__name__ for block in report.blocks]
    assert kinds[:3] == ["MarkdownBlock", "H2", "MarkdownBlock"] and kinds.count("PanelGrid") == 2
    grids = [block for block in report.blocks if type(block).__name__ == "PanelGrid"]
    assert [type(p).__name__ for p in grids[0].panels] == ["MediaBrowser", "WeavePanelSummaryTable",
                                                         "WeavePanelSummaryTable"]  # fmt: skip
    assert [rs.name for rs in grids[1].runsets] == ["baseline tiny:v0", "candidate tiny:v1"]


def test_offline_the_spec_is_spooled_and_sync_saves_it_once(wandb_server: Server, isolated_env: Path) -> None:
    _pair(isolated_env)
    done = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--wandb-report", *OFFLINE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not saved (offline); `eval-orchestrator sync` saves it" in done.stderr
    assert not wandb_server.state.views.by_id
    [record] = [json.loads(line) for line in (isolated_env / "wb" / "wandb" / SPOOL_DIR / REPORTS_FILE).open()]
    assert record["url"] is None and record["spec"]["title"] == "tiny: v1 vs v0"

    synced = _sync()
    [url] = synced["reports_saved"]
    [view] = wandb_server.state.views.by_id.values()
    assert _headings(view)[0] == "Regressed samples" and url.endswith(view.id)
    upserts = wandb_server.state.views.upserts
    assert _sync()["reports_saved"] == []
    assert wandb_server.state.views.upserts == upserts  # saved once


def test_a_failed_save_is_spooled_and_synced_later(wandb_server: Server, isolated_env: Path) -> None:
    _pair(isolated_env)
    wandb_server.state.faults.refused_ops.add("upsertView")
    done = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--wandb-report", "--json", *ONLINE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["report"]["url"] is None and "not saved (input: upsertView refused)" in done.stderr
    wandb_server.state.faults.refused_ops.clear()
    assert len(_sync()["reports_saved"]) == 1 and len(wandb_server.state.views.by_id) == 1


def test_collection_report_plots_versions_and_marks_changes(wandb_server: Server, isolated_env: Path) -> None:
    digests = _register(isolated_env, "tiny", 3)
    rates = {"v0": 0.3, "v1": 0.3, "v2": 0.9}  # v2 is detectably better than v1; v1 is v0 again
    for (version, rate), digest in zip(rates.items(), digests, strict=True):
        epochs = [Epoch(f"s{i}", 1, {"acc": int(i < rate * 60)}) for i in range(60)]
        _log(isolated_env, "tiny", version, digest, "qa", epochs)
    done = cli("report", "tiny", "--wandb-report", "--json", *ONLINE)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert [(c["version"], c["previous"], c["verdict"]) for c in result["changes"]] == [("v2", "v1", "better")]
    [view] = wandb_server.state.views.by_id.values()
    assert result["report_url"].endswith(view.id) and view.display_name.startswith("tiny: every evaluated version")
    assert _headings(view) == ["Where a task changed", "Across versions", "Every version"]
    assert "| v2 | v1 | qa | acc |" in _markdown(view)[1]
    report = _read_back(result["report_url"])
    [grid] = [block for block in report.blocks if type(block).__name__ == "PanelGrid"]
    [plot] = grid.panels
    assert [getattr(y, "name", y) for y in plot.y] == ["qa/acc/mean", "qa/acc/ci_low", "qa/acc/ci_high"]
    assert getattr(plot.x, "name", plot.x) == "version"
    runs = [key for key in wandb_server.state.runs if key[:2] == ("team", "evals")]
    assert len(runs) == 1  # the report run the plot reads: one step per version


@pytest.mark.parametrize("mode", ["disabled"])
def test_a_report_needs_wandb(isolated_env: Path, mode: str) -> None:
    _pair(isolated_env)
    done = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--wandb-report", "--wandb-mode", mode)
    assert done.returncode == 2 and "--wandb-report needs W&B" in done.stderr


def test_watch_saves_one_report_per_decision_and_the_trail_links_it(
    wandb_server: Server, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eval_orchestrator.watch.ledger import Ledger
    from tests.test_watch import register, watch_once, write_plan

    monkeypatch.setenv("WANDB_MODE", "online")  # the environment wins over the plan's wandb.mode

    plan = write_plan(isolated_env, report=True)
    settings = json.loads(plan.read_text())
    settings["wandb"] = {"mode": "online", "project": "evals", "entity": "team"}
    plan.write_text(json.dumps(settings))
    register(isolated_env, 10, "prod")
    assert watch_once(plan).returncode == 0
    register(isolated_env, 16)  # v1: better, promoted
    register(isolated_env, 4)  # v2: worse, held
    second = watch_once(plan)
    assert second.returncode == 3, second.stderr[-3000:]
    views = {view.display_name: view for view in wandb_server.state.views.by_id.values()}
    assert sorted(views) == ["tiny: v1 vs v0 (promoted)", "tiny: v2 vs v0 (held)"]
    assert "**Decision: held.**" in _markdown(views["tiny: v2 vs v0 (held)"])[0]
    entries = {e.version: e for e in Ledger(isolated_env / "ledger.sqlite").entries()}
    urls = {v: e.decision.report_url for v, e in entries.items() if e.decision is not None}
    assert urls["v1"] and urls["v1"].endswith(views["tiny: v1 vs v0 (promoted)"].id)
    assert urls["v2"] and urls["v2"].endswith(views["tiny: v2 vs v0 (held)"].id)
    [move] = json.loads(cli("registry", "history", "tiny", "--json").stdout)
    assert move["version"] == "v1" and move["evidence"]["report_url"] == urls["v1"]
