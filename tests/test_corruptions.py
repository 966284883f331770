"""Hypothesis-generated corruptions of real files: an Inspect log written by Inspect's own recorder,
and a registry version written by `registry add`, damaged at random (bytes flipped, cut short,
members of the log replaced by arbitrary JSON). Each is read the way `compare` and `resolve` read
it: the answer is a value or one line of ours (exit 2), never another exception (exit 70)."""

from __future__ import annotations

import json
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval_orchestrator.comparison.scores import latest_logs, read_task_scores
from eval_orchestrator.errors import UserError
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.registry.local import LocalRegistry
from tests.eval_logs import Epoch, write_log

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@cache
def _real_log() -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="real-log-"))
    epochs = [Epoch(f"s{i}", 1, {"acc": i % 2}, metadata={"topic": f"t{i % 3}"}) for i in range(20)]
    return write_log(folder / "qa.eval", "qa", epochs).read_bytes()


def _read(log: Path) -> None:
    """What compare does with a version's log: find it, read its scores (clustered)."""
    for found in latest_logs(log.parent).values():
        read_task_scores("qa", found, "topic")


def _damaged(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in flips:
        out[position % len(out)] = value
    return bytes(out[: cut % len(out)] if cut is not None else out)


@given(
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8), cut=st.none() | st.integers(0)
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_log_with_bytes_flipped_or_cut_is_read_or_refused_in_one_line(
    flips: list[tuple[int, int]], cut: int | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "qa.eval"
        log.write_bytes(_damaged(_real_log(), flips, cut))
        try:
            _read(log)
        except UserError as exc:
            assert str(log) in str(exc) and "\n" not in str(exc)


@given(member=st.sampled_from(["header.json", "summaries.json", "_journal/start.json"]), value=JSON)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_log_member_replaced_by_any_json_is_read_or_refused_in_one_line(member: str, value: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source, log = Path(folder) / "source.zip", Path(folder) / "qa.eval"
        source.write_bytes(_real_log())
        with zipfile.ZipFile(source) as inside, zipfile.ZipFile(log, "w") as out:
            for item in inside.infolist():
                out.writestr(item, json.dumps(value) if item.filename == member else inside.read(item))
        try:
            _read(log)
        except UserError as exc:
            assert str(log) in str(exc) or "sample" in str(exc)


@given(which=st.sampled_from(["manifest.json", "version.json", "../../aliases.json"]), value=JSON)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_registry_file_holding_any_json_is_read_or_refused_in_one_line(which: str, value: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "src").mkdir()
        (root / "src" / "w.bin").write_bytes(b"weights")
        registry = LocalRegistry(root / "registry")
        registry.add(root / "src", "c")
        (root / "registry" / "c" / "versions" / "v0" / which).write_text(json.dumps(value))
        try:
            resolved = registry.resolve(CheckpointRef("local", "c", "latest"))
            assert resolved.version == "v0"
            registry.all_versions()
        except UserError as exc:  # a damaged file named, or an alias the damaged table no longer has
            assert "\n" not in str(exc) and ("registry" in str(exc) or "not found" in str(exc))
