"""Loading the run config (its schema is ``run_config.py``): YAML, environment, flags, one order.

Precedence, highest first: CLI flag > environment (process, then ``.env``) > YAML file > default.
Every validation problem becomes one line naming the key path and the fix (ConfigError, exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from eval_orchestrator.errors import ConfigError
from eval_orchestrator.run_config import RunConfig, StoreConfig, WandbConfig

# Environment variables and the config key each one sets.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "WANDB_PROJECT": ("wandb", "project"),
    "WANDB_ENTITY": ("wandb", "entity"),
    "WANDB_MODE": ("wandb", "mode"),
    "WANDB_DIR": ("wandb", "dir"),
    "WANDB_ARTIFACT_DIR": ("store", "artifact_dir"),
    "WANDB_CACHE_SKIP": ("store", "cache_skip"),
    "WANDB_ARTIFACT_WAIT_TIMEOUT_SEC": ("store", "wait_timeout"),
    "EVAL_ORCHESTRATOR_POLL_INTERVAL_SEC": ("store", "poll_interval"),
    "EVAL_ORCHESTRATOR_REGISTRY": ("store", "registry"),
    "EVAL_ORCHESTRATOR_WANDB_INIT_TIMEOUT_SEC": ("wandb", "init_timeout"),
    "EVAL_ORCHESTRATOR_WANDB_FINISH_TIMEOUT_SEC": ("wandb", "finish_timeout"),
    "EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS": ("store", "workers"),
    "EVAL_ORCHESTRATOR_PART_SIZE_MB": ("store", "part_size_mb"),
    "EVAL_ORCHESTRATOR_DOWNLOAD_RETRIES": ("store", "retries"),
}


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line for the first problem: key path, what is wrong, how to fix it."""
    first = error.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "<top level>"
    kind = first["type"]
    if kind == "extra_forbidden":
        parent = ".".join(str(p) for p in first["loc"][:-1])
        where = f" for the keys of '{parent}'" if parent else ""
        fix = f"remove it or check its spelling (see `eval-orchestrator config schema`{where})"
        return f"{source}: unknown key '{path}'; {fix}"
    if kind == "missing":
        return f"{source}: missing required key '{path}'; add it (see `eval-orchestrator config schema`)"
    more = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    value = first.get("input")
    if variable := _variable_that_set(path, value):  # name what the user typed, not our key
        return f"the environment variable {variable}={value!r} is not valid ({path}): {first['msg']}{more}"
    shown = f" (got {value!r})" if not isinstance(value, dict | list) and value is not None else ""
    return f"{source}: invalid value for '{path}'{shown}: {first['msg']}{more}"


def _variable_that_set(path: str, value: Any) -> str | None:
    """The environment variable that set ``path`` to ``value``, when one did."""
    for name, key in ENV_KEYS.items():
        dotted = ".".join(key)
        if (dotted == path or dotted.endswith("." + path)) and value is not None and os.environ.get(name) == str(value):
            return name
    return None


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def read_yaml(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(file)!r} is not UTF-8 text; is it the right file?") from None
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} not found; check the path") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(file)!r}: {exc.strerror}") from None
    if len(text) > 10_000_000:
        raise ConfigError(f"config file {str(file)!r} is {len(text):,} characters; a run config is far smaller")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"config file {str(file)!r} nests too deeply to be a run config; fix the syntax") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {str(file)!r} is not valid YAML{where}; fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(file)!r} must be a mapping of keys, not a {type(data).__name__}")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base``; an explicit value (even False or 0) wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The config keys set by environment variables (the process env already holds .env)."""
    env = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    for name, path in ENV_KEYS.items():
        value = env.get(name)
        if value:
            _set(tree, path, value)
    return tree


def build_config(
    file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    layer: dict[str, Any] | None = None,
    source: str | None = None,
    base: dict[str, Any] | None = None,
) -> RunConfig:
    """Build a RunConfig: defaults < file (or ``base``, a file's tree) < env < ``layer`` (e.g. Determined
    hyperparameters) < flags.

    ``source`` names the input in error messages (default: the file, or "run config").
    """
    tree: dict[str, Any] = read_yaml(file) if file else dict(base or {})
    tree = merge(tree, env_overrides(environ))
    tree = merge(tree, layer or {})
    tree = merge(tree, flags or {})
    source = source or (str(file) if file else "run config")
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


SectionT = TypeVar("SectionT", bound=BaseModel)


def _build_section(
    name: str,
    model: type[SectionT],
    file: str | Path | None,
    flags: dict[str, Any] | None,
    environ: dict[str, str] | None,
) -> SectionT:
    """One section of the run config, same precedence: default < file < env < flags (None = unset)."""
    section = read_yaml(file).get(name) if file else None
    tree = section if isinstance(section, dict) else {}
    tree = merge(tree, env_overrides(environ).get(name, {}))
    tree = merge(tree, {k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(file) if file else f"{name} settings")) from None


def build_store_config(
    flags: dict[str, Any] | None = None, environ: dict[str, str] | None = None, file: str | Path | None = None
) -> StoreConfig:
    """Store settings for commands that need no whole run config (resolve, cache, registry)."""
    return _build_section("store", StoreConfig, file, flags, environ)


def build_wandb_config(
    file: str | Path | None = None, flags: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> WandbConfig:
    """W&B settings for commands that need no whole run config (sync reads the run's wandb.dir)."""
    return _build_section("wandb", WandbConfig, file, flags, environ)


def flag_tree(pairs: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """Turn {('inspect','limit'): 5, ...} into a nested mapping, skipping unset (None) flags."""
    tree: dict[str, Any] = {}
    for path, value in pairs.items():
        if value is not None:
            _set(tree, path, value)
    return tree


def json_schema() -> dict[str, Any]:
    return RunConfig.model_json_schema()
