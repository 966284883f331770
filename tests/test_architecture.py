"""The shape of the package, checked from its source: who may import whom, and module size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eval_orchestrator"
MAX_LINES = 350


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every eval_orchestrator module ``path`` imports, at top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("eval_orchestrator")}


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _importers_of(target: str) -> set[str]:
    return {
        name for name, imported in IMPORTS.items() if any(i == target or i.startswith(target + ".") for i in imported)
    }


def test_the_import_scan_sees_real_imports() -> None:
    # Guards the tests below against passing because the scan found nothing.
    assert "eval_orchestrator.checkpoint" in IMPORTS["eval_orchestrator.store.checkpoint_store"]
    assert "eval_orchestrator.registry.wandb_registry" in IMPORTS["eval_orchestrator.orchestrate"]


@pytest.mark.parametrize(("folder", "forbidden"), [("store", "registry"), ("registry", "store")])
def test_store_and_registry_never_import_each_other(folder: str, forbidden: str) -> None:
    offenders = {
        name: sorted(i for i in imported if i.startswith(f"eval_orchestrator.{forbidden}"))
        for name, imported in IMPORTS.items()
        if name.startswith(f"eval_orchestrator.{folder}.")
    }
    assert not {name: bad for name, bad in offenders.items() if bad}


def test_no_two_folders_import_each_other() -> None:
    folders = {name.split(".")[1] for name in MODULES if name.count(".") >= 2}
    edges = {
        (name.split(".")[1], i.split(".")[1])
        for name, imported in IMPORTS.items()
        if name.count(".") >= 2
        for i in imported
        if i.count(".") >= 2 and i.split(".")[1] in folders and i.split(".")[1] != name.split(".")[1]
    }
    assert not {(a, b) for a, b in edges if (b, a) in edges}


def test_w_and_b_helpers_are_not_reached_through_the_registry() -> None:
    # Only the orchestrator (which opens registries) and the registry package itself import the
    # W&B registry backend; the tracker, sync and push use wandb_api.
    importers = _importers_of("eval_orchestrator.registry.wandb_registry")
    assert importers <= {"eval_orchestrator.orchestrate", "eval_orchestrator.registry.push"}, importers
    for user in ("eval_orchestrator.sync", "eval_orchestrator.tracking.wandb_run", "eval_orchestrator.registry.push"):
        assert any(i.startswith("eval_orchestrator.wandb_api") for i in IMPORTS[user]), user


def test_only_the_entry_point_and_the_launcher_import_the_hook() -> None:
    # Importing tracking.hook registers the hook with Inspect; pure helpers live in tracking.rows.
    assert _importers_of("eval_orchestrator.tracking.hook") == {
        "eval_orchestrator._inspect_registry",
        "eval_orchestrator.launch",
        "eval_orchestrator.orchestrate",
    }


def test_one_module_owns_the_w_and_b_spool() -> None:
    # The spool's file names, and paths built under <WANDB_DIR>/wandb/, appear in spool.py alone.
    markers = ("lineage.jsonl", "synced.jsonl", '/ "wandb" /', '"pending"')
    owners = {name for name, path in MODULES.items() if any(m in path.read_text() for m in markers)}
    assert owners == {"eval_orchestrator.spool"}, owners


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concern"


def test_public_api_is_importable_and_lazy() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, eval_orchestrator as eo;"
        "heavy = [m for m in ('pydantic', 'inspect_ai', 'wandb') if m in sys.modules];"
        "missing = [n for n in eo.__all__ if not hasattr(eo, n)];"
        "print(heavy, missing, eo.run.__module__, eo.Unavailable.exit_code)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "[]", "eval_orchestrator.orchestrate", "75"], out
