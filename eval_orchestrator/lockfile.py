"""`eval-orchestrator lock PLAN.yaml` and `run --locked PLAN.lock`: what a plan resolved to, pinned.

A plan names aliases (``:latest``, ``:prod``) that move. The lockfile records, for the same plan,
each checkpoint's version and digest, each task's source (a file's SHA-256, or the installed
package's version), and the inspect-ai / wandb / eval-orchestrator versions; it embeds the run
config itself, so `run --locked` needs nothing else. A locked run evaluates exactly the pinned
versions whatever the aliases point at now, refuses one that is gone or whose digest differs, and
uses the store's copy when it holds the digest (so it works with the registry out of reach).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from eval_orchestrator.errors import ConfigError, UserError
from eval_orchestrator.job import FrozenContract, canonical_json, read_contract
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.run_config import RunConfig, TaskConfig

PACKAGES = ("eval-orchestrator", "inspect-ai", "wandb")


class LockedCheckpoint(FrozenContract):
    ref: CheckpointRef  # as the plan names it
    version: str
    digest: str
    pinned: CheckpointRef  # the reference to the version itself


class LockedTask(FrozenContract):
    spec: str
    file_sha256: str | None = None  # a task file
    package: str | None = None  # a task of an installed package: its distribution and version
    package_version: str | None = None


class Lockfile(FrozenContract):
    format: Literal[1] = 1
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    config: dict[str, Any]  # the run config, as the plan gave it (no secrets: the config refuses them)
    checkpoints: list[LockedCheckpoint]
    tasks: list[LockedTask]
    versions: dict[str, str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def task_source(task: TaskConfig) -> LockedTask:
    file = task.spec.partition("@")[0]
    if file.endswith(".py"):
        path = Path(file)
        if not path.is_file():
            raise ConfigError(f"task file {file!r} not found (relative to {Path.cwd()}); lock from the plan's folder")
        return LockedTask(spec=task.spec, file_sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    package = task.spec.split("/", 1)[0]
    distribution = next(iter(importlib.metadata.packages_distributions().get(package, [])), package)
    return LockedTask(spec=task.spec, package=distribution, package_version=_installed(distribution))


def make_lock(config: RunConfig, plan_tree: dict[str, Any], notify: Notify = quiet) -> Lockfile:
    """Resolve every checkpoint (no bytes fetched) and fingerprint every task. ``plan_tree`` is the
    plan file as written: what the lock replays (this machine's environment is not baked in)."""
    from eval_orchestrator.registry.factory import Registries

    registries = Registries(config.store, notify)
    checkpoints = []
    for ref in config.checkpoints:
        resolved = registries.resolve(ref)
        checkpoints.append(LockedCheckpoint(ref=ref, version=resolved.version, digest=resolved.digest,
                                            pinned=resolved.version_ref))  # fmt: skip
    return Lockfile(
        config=plan_tree,
        checkpoints=checkpoints,
        tasks=[task_source(task) for task in config.tasks],
        versions={name: _installed(name) or "?" for name in PACKAGES},
    )


def read_lock(path: str | Path) -> Lockfile:
    import yaml

    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"lockfile {str(file)!r} not found; write one with `eval-orchestrator lock PLAN.yaml`"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"lockfile {str(file)!r} cannot be read ({type(exc).__name__}); write it again") from None
    return read_contract(Lockfile, data, f"lockfile {file}")


def locked_config(lock: Lockfile, notify: Notify = quiet) -> RunConfig:
    """The run config with every checkpoint pinned, after checking the tasks are the ones locked."""
    from eval_orchestrator.config import build_config

    for locked in lock.tasks:
        now = task_source(TaskConfig(spec=locked.spec))
        if locked.file_sha256 and now.file_sha256 != locked.file_sha256:
            raise UserError(f"task file of {locked.spec!r} changed since the lock; lock the plan again to accept it")
        if locked.package_version and now.package_version != locked.package_version:
            raise UserError(
                f"{locked.package} is {now.package_version or 'not installed'}, the lock says "
                f"{locked.package_version}; install that version, or lock the plan again"
            )
    for name, version in lock.versions.items():
        if (installed := _installed(name) or "?") != version:
            notify(f"note: {name} is {installed} here, {version} when the plan was locked")
    tree = {**lock.config, "checkpoints": [c.pinned for c in lock.checkpoints]}
    pinned = {str(c.ref): str(c.pinned) for c in lock.checkpoints}
    tracking = {"lockfile_sha256": lock.sha256, "locked_checkpoints": pinned}
    wandb = dict(tree.get("wandb") or {})
    wandb["config"] = {**(wandb.get("config") or {}), **tracking}  # every W&B run says what it was locked to
    return build_config(base={**tree, "wandb": wandb}, source="lockfile")


def pins_of(lock: Lockfile) -> dict[CheckpointRef, str]:
    """Pinned reference -> the digest it must have."""
    return {c.pinned: c.digest for c in lock.checkpoints}
