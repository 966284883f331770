"""Property-based tests (hypothesis): whatever text a user gives as a reference, and whatever tree a
config file holds, the parser and the loader answer with a value or one of our errors, never with
anything else; and every reference that parses names a path that stays inside its root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval_orchestrator.checkpoint import ManifestEntry
from eval_orchestrator.config import build_config
from eval_orchestrator.errors import OrchestratorError, RegistryError
from eval_orchestrator.refs import format_ref, name_problem, parse_ref

NAME_CHARS = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc"))
REF_PIECES = st.sampled_from(["local-registry", "wandb-registry-model", "..", ".", "", "v1", "latest", ":", "/", "a"])
REFS = st.one_of(
    st.text(NAME_CHARS, max_size=60),
    st.lists(st.one_of(REF_PIECES, st.text(NAME_CHARS, max_size=8)), max_size=8).map("".join),
)


@given(REFS)
@settings(max_examples=400, deadline=None)
def test_any_text_parses_or_is_one_ref_error(text: str) -> None:
    try:
        ref = parse_ref(text)
    except OrchestratorError as exc:
        assert "\n" not in str(exc)
        return
    assert parse_ref(format_ref(ref)) == ref  # the canonical form round-trips
    for part in (ref.collection, ref.alias, ref.project, ref.entity):
        if part is not None:
            assert name_problem(part) is None
            assert part not in (".", "..") and "/" not in part and not part.startswith(".")
            root = Path("/registry")
            assert (root / part).resolve().parent == root  # a name stays inside its root


@given(st.text(NAME_CHARS, max_size=40))
@settings(max_examples=300, deadline=None)
def test_a_manifest_path_is_inside_the_checkpoint_or_refused(path: str) -> None:
    try:
        entry = ManifestEntry(path, "x", 1)
    except RegistryError:
        return
    root = Path("/store/files")
    assert (root / entry.path).resolve().is_relative_to(root)


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
KEYS = st.one_of(
    st.sampled_from(["checkpoints", "tasks", "inspect", "model", "wandb", "store", "watch", "hooks", "secrets",
                     "limit", "epochs", "args", "name", "spec", "generate", "api_key", "collections"]),
    st.text(max_size=8),
)  # fmt: skip
TREES = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=20,
)


@given(st.dictionaries(KEYS, TREES, max_size=6))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_config_tree_loads_or_is_one_config_error(tree: dict[str, Any]) -> None:
    try:
        build_config(None, tree, environ={})
    except OrchestratorError as exc:
        assert str(exc) and "\n" not in str(exc)
