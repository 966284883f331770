"""Default locations, from the platform's user dirs (overridable by config / env)."""

from __future__ import annotations

from pathlib import Path

APP = "eval-orchestrator"


def default_registry_root() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP)) / "registry"


def default_store_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP)) / "artifacts"
