"""`--json` on every command a script reads: one schema each (documented in the README's CLI
reference), checked here key by key through the real CLI, on stdout alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli import invoke
from tests.servers.wandb_server import Server

SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"
CLI = [sys.executable, "-m", "eval_orchestrator.cli"]


def out(*args: str, code: int = 0) -> object:
    done = invoke(*args)
    assert done.returncode == code, done.stderr[-3000:]
    return json.loads(done.stdout)


def keys(rows: object) -> set[str]:
    assert isinstance(rows, list) and rows, rows
    return set(rows[0])


def test_each_listing_has_its_schema(isolated_env: Path, wandb_server: Server) -> None:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("4")
    assert invoke("registry", "add", str(source), "--name", "tiny", "--alias", "prod").returncode == 0
    plan = isolated_env / "plan.yaml"
    plan.write_text(json.dumps({
        "checkpoints": ["local-registry/tiny:prod"], "tasks": [f"{SKILL}@skill"], "model": {"name": "mockllm/{path}"},
        "inspect": {"display": "none", "log_dir": str(isolated_env / "logs")}, "wandb": {"mode": "offline"},
        "watch": {"collections": ["local-registry/tiny"], "baseline": "prod", "start": "all",
                  "ledger": str(isolated_env / "ledger.sqlite")},
    }))  # fmt: skip

    assert keys(out("registry", "ls", "tiny", "--json")) == {
        "collection", "version", "aliases", "files", "bytes", "created_at", "digest", "metadata",
    }  # fmt: skip
    assert set(out("resolve", "local-registry/tiny:prod", "--json")) == {  # type: ignore[arg-type]
        "ref", "version", "digest", "aliases", "metadata", "path", "files", "bytes", "bytes_copied", "in_place", "kept",
    }  # fmt: skip
    assert keys(out("cache", "ls", "--json")) == {
        "ref", "collection", "digest", "state", "files", "bytes", "last_used", "in_use", "path",
    }  # fmt: skip
    assert keys(out("run", "--config", str(plan), "--json")) == {
        "checkpoint", "version", "ref", "task", "task_args", "status", "metrics", "log", "job_key", "node_id",
    }  # fmt: skip
    lock = out("lock", str(plan), "--json")
    assert set(lock) == {"format", "created_at", "config", "checkpoints", "tasks", "versions"}  # type: ignore[arg-type]
    watched = out("watch", "--config", str(plan), "--once", "--json")
    assert keys(watched) == {"ref", "version", "digest", "role", "state", "attempts", "error", "external", "decision"}
    assert watched[0]["state"] == "baseline"  # type: ignore[index]
    repaired = out("registry", "repair", "tiny", "--json")
    assert set(repaired) == {  # type: ignore[arg-type]
        "collection", "staging_removed", "set_aside", "aliases_dropped", "aliases_rebuilt",
    }  # fmt: skip
    synced = out("sync", "--json")
    assert set(synced) == {"runs_uploaded", "lineage_replayed", "already_done", "failed", "lost", "reports_saved"}  # type: ignore[arg-type]
    assert synced["runs_uploaded"]  # type: ignore[index]


@pytest.mark.determined
def test_the_determined_export_has_its_schema(isolated_env: Path) -> None:
    plan = isolated_env / "plan.yaml"
    plan.write_text(json.dumps({"checkpoints": ["local-registry/tiny:prod"], "tasks": [f"{SKILL}@skill"]}))
    exported = out("determined", "export", str(plan), "-o", str(isolated_env / "exp.yaml"), "--json")
    assert set(exported) == {"output", "name", "trials", "max_concurrent_trials", "experiment"}  # type: ignore[arg-type]
    assert exported["trials"] == 1  # type: ignore[index]
