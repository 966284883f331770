"""The one module that imports Inspect's private modules (``inspect_ai._*``): an Inspect upgrade has
one place to look (a test checks no other module does). Everything else uses Inspect's public API.

inspect-ai is pinned: each function here says which private part it leans on and why no public
one does the same. Imports are inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_ai import Task


def ensure_entry_points() -> None:
    """Load the Inspect entry points of installed packages (hooks, providers, tasks), once per process."""
    from inspect_ai._util.entrypoints import ensure_entry_points as load

    load()


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

    ensure_entry_points()  # providers of installed packages (an entry point, like ours)
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
