"""The run config: pydantic models, YAML loading, and one precedence order.

Precedence, highest first: CLI flag > environment (process, then ``.env``) > YAML file > default.
Every validation problem becomes one line naming the key path and the fix (ConfigError, exit 2).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from eval_orchestrator.errors import ConfigError
from eval_orchestrator.refs import parse_ref
from eval_orchestrator.watch.settings import WatchConfig

WandbMode = Literal["auto", "online", "offline", "disabled"]


class _Strict(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TaskConfig(_Strict):
    """One Inspect task and the args it runs with; the grouping fields are logged to W&B."""

    spec: str = Field(description="Inspect task spec: 'file.py@task', 'file.py', or 'pkg/task'.")
    args: dict[str, Any] = Field(default_factory=dict, description="Task args, as Inspect's -T key=value.")
    language: str | None = Field(default=None, description="Language of the task's data, for grouping.")
    fewshot: int | None = Field(default=None, ge=0, description="Number of few-shot examples, for grouping.")
    num_samples: int | None = Field(
        default=None, ge=1, description="Samples to evaluate for this task (overrides inspect.limit)."
    )

    @field_validator("spec")
    @classmethod
    def _spec_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name an Inspect task, e.g. 'tasks/demo.py@demo'")
        return value.strip()


class InspectOptions(_Strict):
    """Options passed through to ``inspect_ai.eval_set``."""

    limit: int | None = Field(default=None, ge=1, description="Samples per task (all when unset).")
    epochs: int = Field(default=1, ge=1, description="Epochs per sample.")
    max_tasks: int | None = Field(default=None, ge=1, description="Tasks run in parallel.")
    max_samples: int | None = Field(default=None, ge=1, description="Samples run in parallel per task.")
    log_dir: str = Field(default="logs", description="Root of Inspect logs; one subfolder per checkpoint version.")
    display: Literal["full", "conversation", "rich", "plain", "log", "none"] | None = Field(
        default=None, description="Inspect display: full, conversation, rich, plain, log, none."
    )
    retry_attempts: int = Field(default=0, ge=0, description="eval_set retries of a failed task.")
    fail_on_error: bool | float | None = Field(
        default=None, description="Inspect's fail_on_error (a bool or the tolerated error fraction)."
    )


class ModelConfig(_Strict):
    """How a checkpoint directory becomes an Inspect model.

    ``name`` and string values in ``args`` are templates over {path}, {collection}, {version},
    {digest}: ``hf/{collection}-{version}`` with ``model_path: {path}`` (the default), or
    ``vllm/{path}``.
    """

    name: str = Field(default="hf/{collection}-{version}", description="Inspect model spec template.")
    args: dict[str, Any] = Field(
        default_factory=lambda: {"model_path": "{path}", "do_sample": False},
        description="Inspect model args (-M), templated.",
    )
    generate: dict[str, Any] = Field(
        default_factory=dict, description="Inspect GenerateConfig fields, e.g. max_tokens, do_sample."
    )


class WandbConfig(_Strict):
    project: str | None = Field(default=None, description="W&B project for eval runs (WANDB_PROJECT).")
    entity: str | None = Field(default=None, description="W&B entity (WANDB_ENTITY); the default one when unset.")
    mode: WandbMode = Field(
        default="auto", description="auto: online with WANDB_API_KEY, else offline. Also WANDB_MODE."
    )
    tags: list[str] = Field(default_factory=list, description="Extra tags on every run.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Extra keys in every run's config (e.g. the Determined trial's ids)."
    )
    init_timeout: float = Field(
        default=30, gt=0, description="Seconds wandb.init may take online before the run falls back to offline."
    )
    finish_timeout: float = Field(
        default=120,
        gt=0,
        description="Seconds a finishing run waits for uploads; past it the data stays on disk for `sync`.",
    )
    link_results: str | None = Field(
        default=None,
        description="Registry collection each results artifact is linked into, e.g. wandb-registry-evals/results.",
    )
    dir: str | None = Field(default=None, description="Where wandb writes run files (WANDB_DIR).")


class HubConfig(_Strict):
    """Hugging Face Hub copy of each job's results (token from HF_TOKEN, host from HF_ENDPOINT)."""

    upload_repo: str | None = Field(
        default=None,
        description="Dataset repo ORG/NAME each job's results folder is committed to (created if missing).",
    )
    upload_dir: str = Field(
        default="eval-results",
        description="Folder in that repo; each job goes to <dir>/<collection>/<vN>/<task>-<key>.",
    )

    @field_validator("upload_repo")
    @classmethod
    def _repo_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", value):
            raise ValueError("must be ORG/NAME, e.g. my-team/eval-results")
        return value


class StoreConfig(_Strict):
    artifact_dir: str | None = Field(
        default=None, description="Checkpoint store root (WANDB_ARTIFACT_DIR); the user cache dir when unset."
    )
    registry: str | None = Field(
        default=None, description="Local registry root (EVAL_ORCHESTRATOR_REGISTRY); the user data dir when unset."
    )
    verify: bool = Field(default=False, description="Re-hash every stored file before use (slow, thorough).")
    workers: int = Field(
        default=8, ge=1, le=64, description="Parallel transfers: files, and ranges of large S3 objects."
    )
    part_size_mb: int = Field(
        default=64, ge=1, le=4096, description="Size of the ranged requests a large S3 object is split into (MiB)."
    )
    retries: int = Field(
        default=8, ge=1, le=50, description="Attempts per S3 request before a download fails (backoff in between)."
    )
    cache_skip: bool = Field(
        default=False,
        description="WANDB_CACHE_SKIP: do not keep checkpoints; each is removed when the run that fetched it ends.",
    )
    wait_timeout: float = Field(
        default=3600,
        ge=0,
        description="WANDB_ARTIFACT_WAIT_TIMEOUT_SEC: how long to wait for '<name>:<alias>' while only an "
        "incomplete '<alias>-local' exists.",
    )
    poll_interval: float = Field(
        default=15, gt=0, description="Seconds between checks while waiting for an upload to finish."
    )


class RunConfig(_Strict):
    """Everything one ``eval-orchestrator run`` needs."""

    checkpoints: list[str] = Field(min_length=1, description="Checkpoint references to evaluate.")
    tasks: list[TaskConfig] = Field(min_length=1, description="Inspect tasks run on every checkpoint.")
    inspect: InspectOptions = Field(default_factory=InspectOptions)
    model: ModelConfig = Field(default_factory=ModelConfig)
    hooks: list[str] = Field(default_factory=list, description="Extra Inspect hooks that must be installed.")
    wandb: WandbConfig = Field(default_factory=WandbConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    watch: WatchConfig | None = Field(default=None, description="`eval-orchestrator watch`: what to watch and gate.")

    @field_validator("checkpoints")
    @classmethod
    def _refs_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_ref(text)  # raises RefError with its own one-line message
        return value


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
    shown = f" (got {value!r})" if not isinstance(value, dict | list) and value is not None else ""
    return f"{source}: invalid value for '{path}'{shown}: {first['msg']}{more}"


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
        text = file.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} not found; check the path") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(file)!r}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
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
) -> RunConfig:
    """Build a RunConfig: defaults < file < env < ``layer`` (e.g. Determined hyperparameters) < flags.

    ``source`` names the input in error messages (default: the file, or "run config").
    """
    tree: dict[str, Any] = read_yaml(file) if file else {}
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
