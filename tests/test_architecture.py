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
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(submodules)
            if node.module != "eval_orchestrator" or not all(m in MODULE_NAMES for m in submodules):
                found.add(node.module)  # `from eval_orchestrator import env` imports env, not the package's API
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("eval_orchestrator")}


MODULE_NAMES = {_module_name(path) for path in PACKAGE.rglob("*.py")}
MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}

# The layers, lowest first: a module imports its own layer or lower ones, never a higher one.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "error_text", "env", "notify", "strict", "jsonl", "interrupts", "paths", "progress",
                    "credentials", "scrub", "inspect_options",
                    "redact", "score_values", "inspect_api", "comparison.stats", "comparison.verdict",
                    "comparison.sequential",
                    "comparison.simulation", "tasks", "tasks.capitals",
                    "tiny_checkpoint", "comparison", "registry", "store", "tracking", "det", "watch"}),
    ("grammar", {"refs"}),
    ("schema", {"checkpoint", "watch_config", "executor_config", "scan_options", "run_config", "config", "job"}),
    ("infrastructure", {"local_files", "s3_objects", "wandb_api", "registry.*", "store.*", "spool", "publish", "hub",
                        "audit", "attempts", "task_loader", "ecosystem", "comparison.model", "watch.decision",
                        "watch.ledger", "trail", "comparison.report_spec"}),
    ("planning", {"plan", "preflight", "comparison.scores", "comparison.wandb_results", "comparison.report",
                  "comparison.plot", "comparison.wandb_log", "comparison.flips",
                  "comparison.wandb_report", "comparison.report_publish", "tracking.*", "lockfile",
                  "det.hparams", "det.export", "det.submit", "watch.sources"}),
    ("execution", {"launch", "comparison.compare", "comparison.power", "orchestrate", "sync", "outcomes", "executors",
                   "executors.*"}),
    ("applications", {"gate", "gate_stages", "det.trial", "watch.decide", "watch.loop", "watch.webhook"}),
    ("interface", {"cli", "cli.*", "", "_inspect_registry"}),
]  # fmt: skip


def layer_of(module: str) -> int:
    short = module.removeprefix("eval_orchestrator").removeprefix(".")
    for index, (_, members) in enumerate(LAYERS):
        if short in members or any(m.endswith(".*") and short.startswith(m[:-1]) for m in members):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _importers_of(target: str) -> set[str]:
    return {
        name for name, imported in IMPORTS.items() if any(i == target or i.startswith(target + ".") for i in imported)
    }


def test_the_import_scan_sees_real_imports() -> None:
    # Guards the tests below against passing because the scan found nothing.
    assert "eval_orchestrator.checkpoint" in IMPORTS["eval_orchestrator.store.checkpoint_store"]
    assert "eval_orchestrator.registry.wandb_registry" in IMPORTS["eval_orchestrator.registry.factory"]


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
    # Only the registry factory (which opens registries) and `registry push` import the W&B registry
    # backend; the tracker, sync and push use wandb_api.
    importers = _importers_of("eval_orchestrator.registry.wandb_registry")
    assert importers <= {"eval_orchestrator.registry.factory", "eval_orchestrator.registry.push"}, importers
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


def test_every_module_has_a_layer_and_no_import_runs_up_the_layers() -> None:
    upward = sorted(
        f"{name} ({LAYERS[layer_of(name)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})"
        for name, imported in IMPORTS.items()
        for target in imported
        if target in MODULES and layer_of(target) > layer_of(name)
    )
    assert upward == [], upward


# Where text becomes a checkpoint reference: the grammar, the command line, W&B's webhook body, and
# the library's two entry points that take text as the CLI does (resolve, compare). Everything else
# carries the typed value (files and listings are parsed by the pydantic types as they are read).
PARSE_EDGES = {"eval_orchestrator.refs", "eval_orchestrator.watch.webhook", "eval_orchestrator.orchestrate",
               "eval_orchestrator.comparison.compare"}  # fmt: skip
REF_TYPES = {"CheckpointRef", "CollectionRef", "WatchTarget"}


def _parses_refs(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "parse_ref"
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("parse", "parse_ref")
        and isinstance(func.value, ast.Name)
        and func.value.id in REF_TYPES | {"refs"}
    )


def test_references_are_parsed_only_at_the_edges() -> None:
    sites = {name for name, tree in TREES.items() if any(_parses_refs(call) for call in _calls(tree))}
    assert "eval_orchestrator.cli.registry" in sites  # the scan sees real parse sites
    outside = sorted(name for name in sites if name not in PARSE_EDGES and not name.startswith("eval_orchestrator.cli"))
    assert outside == [], outside


def test_only_the_inspect_boundary_imports_inspects_private_modules() -> None:
    def private(module: str) -> bool:
        return module.startswith("inspect_ai.") and any(part.startswith("_") for part in module.split(".")[1:])

    importers = set()
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if any(private(module) for module in names):
                importers.add(name)
    assert importers == {"eval_orchestrator.inspect_api"}, importers


def test_only_the_settings_module_touches_the_environment() -> None:
    def touches(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("environ", "getenv", "putenv", "unsetenv")
        )

    readers = {name for name, tree in TREES.items() if any(touches(node) for node in ast.walk(tree))}
    assert readers == {"eval_orchestrator.env"}, readers


def test_every_variable_read_is_declared_once() -> None:
    from eval_orchestrator import env

    named: set[str] = set()
    for tree in TREES.values():
        for call in _calls(tree):
            func = call.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env":
                for arg in call.args[:1]:  # the name(s); a second argument is a value or a mapping
                    parts = arg.elts if isinstance(arg, ast.Tuple) else [arg]
                    named.update(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
    assert named, "the scan found no env.get(...) call"
    assert named <= set(env.BY_NAME), sorted(named - set(env.BY_NAME))
    assert len(env.BY_NAME) == len(env.VARIABLES)  # each declared once
    example = (PACKAGE.parent / ".env.example").read_text()
    undocumented = [v.name for v in env.VARIABLES if v.reader != "tests" and v.name not in example]
    assert undocumented == [], f".env.example does not document {undocumented}"


def test_the_generated_docs_are_current() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(PACKAGE.parent / "scripts" / "docs.py"), "--check"], capture_output=True)
    assert done.returncode == 0, done.stdout


def test_no_registry_backend_is_switched_on_outside_the_factory() -> None:
    backends = {"LocalRegistry", "WandbRegistry"}
    offenders = set()
    for name, tree in TREES.items():
        for call in _calls(tree):
            if isinstance(call.func, ast.Name) and call.func.id == "isinstance" and len(call.args) == 2:
                mentioned = {n.id for n in ast.walk(call.args[1]) if isinstance(n, ast.Name)}
                if mentioned & backends:
                    offenders.add(name)
    assert offenders <= {"eval_orchestrator.registry.factory"}, offenders


def test_not_found_is_a_type_never_a_matched_message() -> None:
    matched = set()
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
                left = node.left
                if isinstance(left, ast.Constant) and isinstance(left.value, str) and "not found" in left.value.lower():
                    matched.add(name)
    assert matched == set(), matched


def test_one_notify_type_and_one_ledger_class() -> None:
    notify_defs = {
        name
        for name, tree in TREES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "Notify" for t in node.targets)
    }
    assert notify_defs == {"eval_orchestrator.notify"}, notify_defs
    classes: dict[str, list[str]] = {}
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, []).append(name)
    assert {cls: where for cls, where in classes.items() if len(where) > 1} == {}
