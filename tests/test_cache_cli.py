"""`cache ls | verify | prune` through the real CLI, on a store filled by real resolves."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from eval_orchestrator import orchestrate
from eval_orchestrator.registry.factory import local_registry
from eval_orchestrator.store.factory import open_store
from tests.test_cli import assert_one_line_error, cli

DAY = 86400


def _fill(checkpoint_dir: Path, versions: int = 3) -> list[Any]:
    """`versions` versions of 'tiny', each resolved into the store, last used 10, 2 and 0 days ago."""
    registry = local_registry()
    items = []
    for i in range(versions):
        (checkpoint_dir / "config.json").write_text(json.dumps({"n_layer": 2, "step": i}))
        registry.add(checkpoint_dir, "tiny")
        items.append(orchestrate.resolve(f"local-registry/tiny:v{i}"))
    for item, age in zip(items, (10 * DAY, 2 * DAY, 0), strict=False):
        stamp = item.path.parent / "stamp.json"
        os.utime(stamp, (time.time() - age, time.time() - age))
    return items


def _ls() -> list[dict[str, Any]]:
    done = cli("cache", "ls", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_ls_shows_versions_sizes_and_last_use(checkpoint_dir: Path) -> None:
    items = _fill(checkpoint_dir)
    rows = _ls()
    by_ref = {r["ref"]: r for r in rows}
    assert set(by_ref) == {f"local-registry/tiny:v{i}" for i in range(3)}
    assert by_ref["local-registry/tiny:v0"]["last_used"] < time.time() - 9 * DAY
    assert all(r["state"] == "kept" and r["files"] == 3 and r["bytes"] >= 300_000 for r in rows)
    assert {r["digest"] for r in rows} == {i.resolved.digest for i in items}
    text = cli("cache", "ls").stdout
    assert "local-registry/tiny:v0" in text and "10d ago" in text and "3 entries" in text


def test_verify_rehashes_and_discards_what_differs(checkpoint_dir: Path) -> None:
    items = _fill(checkpoint_dir, versions=2)
    ok = cli("cache", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("ok ") == 2

    weights = items[1].path / "weights.bin"
    st = weights.stat()
    data = bytearray(weights.read_bytes())
    data[7] ^= 0xFF
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: only a re-hash sees it
    bad = cli("cache", "verify")
    assert bad.returncode == 1
    assert "BAD      local-registry/tiny:v1: stored file 'weights.bin' of tiny:v1 does not match" in bad.stdout
    assert "1 stored checkpoint(s) differ" in bad.stderr
    fixed = cli("cache", "verify", "--discard")
    assert fixed.returncode == 1 and "removed  local-registry/tiny:v1" in fixed.stdout
    assert [r["ref"] for r in _ls()] == ["local-registry/tiny:v0"]
    assert cli("cache", "verify").returncode == 0


def test_verify_recomputes_multipart_etags_of_s3_entries(s3: Any) -> None:
    from tests.test_s3 import register, seed

    seed(s3)
    register()
    item = orchestrate.resolve("local-registry/llm:latest")
    assert cli("cache", "verify").returncode == 0
    model = item.path / "model.bin"
    st = model.stat()
    with model.open("r+b") as fh:  # flip a byte in the last part
        fh.seek(st.st_size - 1)
        last = fh.read(1)
        fh.seek(st.st_size - 1)
        fh.write(bytes([last[0] ^ 0xFF]))
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    bad = cli("cache", "verify")
    assert bad.returncode == 1 and "'model.bin' of llm:v0 does not match its digest" in bad.stdout


def test_prune_by_age_and_keep_latest_never_touches_what_is_in_use(checkpoint_dir: Path) -> None:
    items = _fill(checkpoint_dir)
    assert_one_line_error(cli("cache", "prune"), "say what to prune")
    assert_one_line_error(cli("cache", "prune", "--older-than", "soon"), "duration 'soon' is not valid")

    dry = cli("cache", "prune", "--older-than", "5d", "--dry-run")
    assert dry.returncode == 0 and "would remove local-registry/tiny:v0" in dry.stdout
    assert len(_ls()) == 3

    # v1 is in use by a running eval (a live lease of this test process): never pruned.
    lease = items[1].path.parent / "leases" / f"{os.uname().nodename}-{os.getpid()}"
    lease.parent.mkdir()
    lease.touch()
    pruned = cli("cache", "prune", "--older-than", "1d")
    assert pruned.returncode == 0, pruned.stderr
    assert "removed local-registry/tiny:v0" in pruned.stdout and "tiny:v1" not in pruned.stdout
    assert sorted(r["ref"] for r in _ls()) == ["local-registry/tiny:v1", "local-registry/tiny:v2"]

    lease.unlink()
    kept = cli("cache", "prune", "--keep-latest", "1")
    assert "removed local-registry/tiny:v1" in kept.stdout
    assert [r["ref"] for r in _ls()] == ["local-registry/tiny:v2"]
    assert not any(p.name.startswith(".trash-") for p in items[0].path.parent.parent.iterdir())


def test_prune_removes_stale_partial_downloads_unless_one_is_running(checkpoint_dir: Path, isolated_env: Path) -> None:
    registry = local_registry()
    resolved = registry.add(checkpoint_dir, "tiny")
    store = open_store()
    partial = store.partial_dir(resolved)
    (partial / "files").mkdir(parents=True)
    (partial / "files" / "weights.bin").write_bytes(b"x" * 1000)
    (partial / "journal.jsonl").write_text("")
    rows = _ls()
    assert [(r["state"], r["ref"]) for r in rows] == [("partial", "tiny (unfinished download)")]

    with store.lock(resolved.digest):  # a download in progress holds the lock
        busy = cli("cache", "prune", "--all")
    assert "skipped tiny (unfinished download): in use" in busy.stdout and partial.exists()
    assert "removed tiny (unfinished download)" in cli("cache", "prune", "--all").stdout
    assert not partial.exists()
