"""The one module that imports Inspect's private modules (``inspect_ai._*``): an Inspect upgrade has
one place to look (a test checks no other module does). Everything else uses Inspect's public API.

inspect-ai is pinned: each function here says which private part it leans on and why no public
one does the same. Imports are inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_ai import Task
    from inspect_ai.log import EvalLog


_ENTRY_POINTS_LOADED: set[str] = set()  # the packages whose entry points this process has loaded


def ensure_entry_points(skip: Collection[str] = ()) -> None:
    """Load the Inspect entry points of installed packages (hooks, providers, tasks), once each per process,
    but not those of the packages in ``skip``; a later call without them loads them.

    Inspect's hooks load every package's entry points before each eval (``ensure_entry_points()``,
    all or nothing); its flag ``_inspect_ai_eps_loaded_all`` tells it they are loaded, so a package
    skipped here stays unloaded there.
    """
    from importlib.metadata import entry_points

    from inspect_ai._util import entrypoints

    for point in entry_points(group="inspect_ai"):
        if point.name in _ENTRY_POINTS_LOADED or point.name in skip:
            continue
        _ENTRY_POINTS_LOADED.add(point.name)
        try:
            point.load()
        except Exception as ex:  # as Inspect's own loader: one broken package does not stop the others
            entrypoints.logger.warning(f"Unexpected exception loading entrypoints from '{point.value}': {ex}")
    entrypoints._inspect_ai_eps_loaded_all = True


def is_prerequisite_error(exc: BaseException) -> bool:
    """Whether Inspect refused to start for a missing prerequisite (a package, a setting): the user's to fix."""
    from inspect_ai._util.error import PrerequisiteError

    return isinstance(exc, PrerequisiteError)


def load_tasks(spec: str, args: Mapping[str, Any]) -> list[Task]:
    """Inspect's own task loader (specs as `inspect eval` takes them: 'file.py@task', 'pkg/task');
    no public equivalent yet. Fresh Task objects on every call."""
    from inspect_ai._eval.loader import load_tasks as inspect_load_tasks

    found: list[Task] = inspect_load_tasks([spec], dict(args))
    return found


def model_providers() -> dict[str, Callable[[], Any]]:
    """Provider name -> a function that imports its ModelAPI (its dependency checks) without making a model."""
    import inspect_ai.model._providers.providers  # noqa: F401  # registers the built-in providers
    from inspect_ai._util.registry import registry_find, registry_info, registry_unqualified_name

    # registry_find loads installed packages' entry points (their providers, like ours) unless we have
    found: dict[str, Callable[[], Any]] = {}
    for wrapper in registry_find(lambda info: info.type == "modelapi"):
        name = registry_unqualified_name(registry_info(wrapper))
        wrapped: Any = (
            inspect.getclosurevars(wrapper).nonlocals.get("wrapped", wrapper) if callable(wrapper) else wrapper
        )
        found[name] = wrapped if not isinstance(wrapped, type) else _returning(wrapped)
    return found


def _returning(cls: type) -> Callable[[], Any]:
    return lambda: cls


def installed_hook_names() -> set[str]:
    """The names of every Inspect hook registered in this process."""
    from inspect_ai._util.registry import registry_info
    from inspect_ai.hooks._hooks import get_all_hooks

    return {registry_info(hook).name for hook in get_all_hooks()}


def hook_name(hook: object) -> str:
    """The name Inspect registered a hook instance under (what INSPECT_REQUIRED_HOOKS must say)."""
    from inspect_ai._util.registry import registry_info

    return str(registry_info(hook).name)


def read_log_member(log: Path, member: str) -> bytes | None:
    """One member of an ``.eval`` log (a zip) read whole, or None when the log has no such member (a log
    still being written keeps its summaries in a journal). Inspect has no public reader for a single
    member; its zip reader also reads logs on S3."""
    from inspect_ai._util._async import run_coroutine
    from inspect_ai._util.async_zip import AsyncZipReader
    from inspect_ai._util.asyncfiles import AsyncFilesystem

    async def read() -> bytes | None:
        async with AsyncFilesystem() as fs:
            reader = AsyncZipReader(fs, str(log))
            names = {entry.filename for entry in (await reader.entries()).entries}
            if member not in names:
                return None
            data: bytes = await reader.read_member_fully(member)
            return data

    result: bytes | None = run_coroutine(read())
    return result


def cleanup_sample_buffers(log: str) -> None:
    """Remove the sample buffer Inspect keeps beside a log while it is written (for a log we remove)."""
    from inspect_ai.log._recorders.buffer.buffer import cleanup_sample_buffers_for_log

    cleanup_sample_buffers_for_log(log)


def remove_log(location: str) -> None:
    """Remove a log (a folder's or a bucket's, through Inspect's own file layer) and its sample buffer."""
    from inspect_ai._util.file import filesystem

    cleanup_sample_buffers(location)
    fs = filesystem(location)
    if fs.exists(location):
        fs.rm(location)


def task_parameters(task: Task) -> list[str] | None:
    """The parameters the task's @task function takes (what -T may set), or None when it takes
    ``**kwargs`` or cannot be looked up (then nothing is refused)."""
    import inspect as signature_of

    from inspect_ai._util.registry import registry_info, registry_lookup

    function = registry_lookup("task", getattr(task, "registry_name", None) or task.name)
    if not callable(function):
        return None
    params = signature_of.signature(function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return list(registry_info(function).metadata.get("params", []))


# -- Inspect's protocol for external runners (a versioned wire format: its models live in
#    inspect_ai._eval.eval_set_manifest / eval_set_selection; we write and read their JSON here only).

CAPTURE_ENV = "INSPECT_EVAL_SET_CAPTURE"
SELECTION_ENV = "INSPECT_EVAL_SET_SELECTION"


def capture_env(manifest: Path) -> dict[str, str]:
    """The environment that makes the next eval_set write its resolved tasks to ``manifest`` and stop
    (raising SystemExit(0)) without running anything."""
    return {CAPTURE_ENV: str(manifest)}


def captured_tasks(manifest: Path) -> list[tuple[str, str, str | None, str]]:
    """(task name, identifier, registry name, args hash) of each task a capture manifest lists."""
    from inspect_ai._eval.eval_set_manifest import EvalSetCapture

    capture = EvalSetCapture.model_validate_json(manifest.read_bytes())
    return [(task.name, task.identifier, task.registry_name, task.args_hash) for task in capture.tasks]


def task_args_hash(args: Mapping[str, Any]) -> str:
    """The hash of a task's args that a capture manifest lists (and the task identifier holds)."""
    from inspect_ai._eval.eval_set_manifest import task_args_hash as inspect_hash

    return str(inspect_hash(dict(args)))


def selection_env(folder: Path, eval_set_id: str, identifier: str, resume: str | None) -> dict[str, str]:
    """The environment that makes the next eval_set run only the task ``identifier`` (resuming from the
    log ``resume``), with no eval-set bookkeeping: many of these share one log dir."""
    from inspect_ai._eval.eval_set_selection import (
        EVAL_SET_SELECTION_VERSION,
        EvalSetSelection,
        EvalSetSelectionTask,
    )

    selection = EvalSetSelection(
        version=EVAL_SET_SELECTION_VERSION,
        eval_set_id=eval_set_id,
        tasks=[EvalSetSelectionTask(identifier=identifier, resume=resume)],
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"selection-{hashlib.sha256(identifier.encode()).hexdigest()[:16]}.json"  # ids hold '/'s
    path.write_text(selection.model_dump_json())
    return {SELECTION_ENV: str(path)}


def eval_set_id(log_dir: str) -> str:
    """The log dir's eval set id (made, and written to it, when it has none): what every worker stamps."""
    from inspect_ai._eval.evalset import eval_set_id_for_log_dir

    return str(eval_set_id_for_log_dir(log_dir))


def task_logs(log_dir: str, identifier: str) -> tuple[EvalLog | None, str | None]:
    """Task ``identifier``'s logs in ``log_dir``: the header of a finished one (nothing left to run), and
    the location of the newest unfinished one (what a selection resumes from, reusing its samples)."""
    from inspect_ai._eval.evalset import task_identifier
    from inspect_ai.log import list_eval_logs, read_eval_log

    finished: EvalLog | None = None
    unfinished: list[tuple[float, str]] = []
    for info in list_eval_logs(log_dir, recursive=False):
        try:
            header = read_eval_log(info.name, header_only=True)
        except Exception:  # a log we cannot read is neither
            continue
        if task_identifier(header, None) != identifier:
            continue
        if header.status == "success":
            finished = header
        else:
            unfinished.append((info.mtime or 0.0, info.name))
    return finished, (max(unfinished)[1] if unfinished else None)


def should_fail(log_location: str, fail_on_error: bool | float | None) -> tuple[int, int] | None:
    """(errored, total) samples when a log's errors exceed ``fail_on_error`` (Inspect's own rule), else
    None. A selected task runs with fail_on_error off (the runner decides): this is that decision."""
    from inspect_ai._eval.task.error import _should_eval_fail
    from inspect_ai.log import read_eval_log

    results = read_eval_log(log_location, header_only=True).results
    if results is None:
        return None
    errored = results.total_samples - results.completed_samples
    return (
        (errored, results.total_samples) if _should_eval_fail(errored, results.total_samples, fail_on_error) else None
    )


def eval_command_options() -> list[str]:
    """The first flag of each option of Inspect's `inspect eval` (what inspect_options classifies)."""
    import click
    from inspect_ai._cli.eval import eval_command

    return [param.opts[0] for param in eval_command.params if isinstance(param, click.Option)]


def resolve_scanner(scan: Mapping[str, Any]) -> Any:
    """``inspect.scan`` as Inspect's `--scanner` options resolve (its CLI's resolver; no public one):
    the eval_set ``scanner`` argument. Raises UserError, one line, for what Inspect refuses."""
    import click
    from inspect_ai._cli._scanner import resolve_cli_scanner
    from inspect_ai._util.error import PrerequisiteError

    from eval_orchestrator.errors import UserError

    def pairs(key: str) -> tuple[str, ...] | None:
        return tuple(scan[key]) if scan.get(key) else None

    try:
        return resolve_cli_scanner(
            scan["scanner"], pairs("scanner_args"), scans=scan.get("scans"), scan_name=scan.get("scan_name"),
            scan_tags=scan.get("scan_tags"), scan_metadata=pairs("scan_metadata"), scan_filter=pairs("scan_filter"),
            scan_model=scan.get("scan_model"), scan_model_base_url=scan.get("scan_model_base_url"),
            scan_model_arg=pairs("scan_model_args"), scan_model_config=scan.get("scan_model_config"),
            scan_model_role=pairs("scan_model_roles"), scan_generate_config=scan.get("scan_generate_config"),
        )  # fmt: skip
    except (click.UsageError, PrerequisiteError, ImportError, ValueError, OSError) as exc:
        from rich.text import Text

        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        plain = Text.from_markup(message).plain.removeprefix("ERROR:")  # Inspect's markup, for its console
        text = " ".join(plain.split())  # its lines (the install command on the next) as one
        raise UserError(f"--scanner {scan['scanner']!r}: {text}") from None


def int_or_bool_value(raw: str, true_value: int) -> int:
    """Inspect's reading of its `--name [N]` options: `true`/`yes`/`1` (and the bare flag) are
    ``true_value``, `false`/`no`/`0` are 0, another integer is itself; ValueError otherwise."""
    from inspect_ai._util.flag_values import int_or_bool_value as inspect_reading

    return inspect_reading(raw, true_value)


def generate_value(name: str, raw: str, bare: int | None) -> Any:
    """A generation option spelled as on Inspect's command line (``--cache 7``, ``--batch``, ``--adaptive-connections
    2-40``, ``--response-schema JSON``), converted by Inspect's own pass (``config_from_locals``; its CLI and its
    environment variables share it), as JSON-able as the run config is. ``bare``: what the flag alone means."""
    from inspect_ai._util.flag_values import int_bool_or_str_value
    from inspect_ai._util.generate_config_args import config_from_locals
    from pydantic import BaseModel

    from eval_orchestrator.errors import UserError

    flag = "--" + name.replace("_", "-")
    try:
        value = int_bool_or_str_value(raw, bare) if bare is not None else raw
        converted = config_from_locals({name: value}).get(name)
    except Exception as exc:  # Inspect's parse errors: pydantic, YAML, its own
        text = " ".join(str(exc).split())[:300]
        raise UserError(f"{flag} {raw!r} is refused by Inspect: {text}") from None
    return converted.model_dump(mode="json", exclude_none=True) if isinstance(converted, BaseModel) else converted


def sentinel_spec(sentinel: str, args: list[str] | None) -> Any:
    """``inspect.sentinel`` with its KEY=VALUE args as Inspect's `--sentinel`/`--sentinel-arg` build it."""
    from inspect_ai._sentinel._config import sentinel_with_args
    from inspect_ai._util.error import PrerequisiteError

    from eval_orchestrator.errors import UserError

    try:
        return sentinel_with_args(sentinel, tuple(args or ()))
    except PrerequisiteError as exc:
        raise UserError(" ".join(str(exc).split())) from None
