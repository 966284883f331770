"""Loading the run config (its schema is ``run_config.py``): YAML, environment, flags, one order.

Precedence, highest first: CLI flag > environment (process, then ``.env``) > YAML file > default.
Every validation problem becomes one line naming the key path and the fix (ConfigError, exit 2).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from eval_orchestrator import env
from eval_orchestrator.errors import ConfigError
from eval_orchestrator.run_config import RunConfig, StoreConfig, WandbConfig


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
    for variable in env.VARIABLES:
        dotted = variable.config_key
        matches = dotted is not None and (dotted == path or dotted.endswith("." + path))
        if matches and value is not None and env.get(variable.name) == str(value):
            return variable.name
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


def env_overrides(environ: env.Environ | None = None) -> dict[str, Any]:
    """The config keys set by environment variables (the process env already holds .env)."""
    tree: dict[str, Any] = {}
    for dotted, value in env.config_overrides(environ).items():
        _set(tree, tuple(dotted.split(".")), value)
    return tree


def build_config(
    file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: env.Environ | None = None,
    layer: dict[str, Any] | None = None,
    source: str | None = None,
    base: dict[str, Any] | None = None,
) -> RunConfig:
    """Build a RunConfig: defaults < file (or ``base``, a file's tree) < env < ``layer`` (e.g. Determined
    hyperparameters) < flags.

    ``source`` names the input in error messages (default: the file, or "run config"). With the process
    environment (``environ`` None), a .env is read first, as the CLI does.
    """
    if environ is None:
        env.load_dotenv_file()
    written: dict[str, Any] = read_yaml(file) if file else dict(base or {})
    from_env = env_overrides(environ)
    tree = merge(merge(merge(written, from_env), layer or {}), flags or {})
    watched = tree.get("watch", {}).get("collections") if isinstance(tree.get("watch"), dict) else None
    if "checkpoints" not in tree and isinstance(watched, list) and watched:
        tree["checkpoints"] = watched  # a watch plan: the watcher names the versions; the plan checks as a run
    source = source or (str(file) if file else "run config")
    try:
        config = RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None
    _no_hidden_mistake(written, from_env, tree, source)
    return config


def _no_hidden_mistake(written: dict[str, Any], from_env: dict[str, Any], tree: dict[str, Any], source: str) -> None:
    """A value the environment overrides must still be valid in the file: a typo there would come back
    the day the variable is unset."""
    for dotted in env.config_overrides().keys() & _dotted(from_env):
        path = tuple(dotted.split("."))
        node: Any = written
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue
        trial = copy.deepcopy(tree)
        _set(trial, path, node)
        try:
            RunConfig.model_validate(trial)
        except ValidationError as exc:
            variable = env.variable_for(dotted)
            hidden_by = f" (hidden by {variable.name} now)" if variable else ""
            message = format_validation_error(exc, source)
            raise ConfigError(f"{message}{hidden_by}; fix it in the file") from None


def _dotted(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out |= _dotted(value, name + ".") if isinstance(value, dict) else {name}
    return out


SectionT = TypeVar("SectionT", bound=BaseModel)


def validated(model: type[SectionT], tree: dict[str, Any], source: str) -> SectionT:
    """``tree`` validated as ``model``; a problem is one line naming the key (ConfigError, exit 2)."""
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def _build_section(
    name: str,
    model: type[SectionT],
    file: str | Path | None,
    flags: dict[str, Any] | None,
    environ: env.Environ | None,
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
    flags: dict[str, Any] | None = None, environ: env.Environ | None = None, file: str | Path | None = None
) -> StoreConfig:
    """Store settings for commands that need no whole run config (resolve, cache, registry)."""
    return _build_section("store", StoreConfig, file, flags, environ)


def build_wandb_config(
    file: str | Path | None = None, flags: dict[str, Any] | None = None, environ: env.Environ | None = None
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
