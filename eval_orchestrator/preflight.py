"""Check the whole plan before any checkpoint is fetched: what would otherwise fail after minutes of
downloading (or after the eval) fails here, as one line naming what is wrong and how to fix it.

Checked: declared secrets are set; model spec templates name only known fields; the model
provider (and each role's) exists and its dependencies import; model args do not clash with
Inspect's own ``get_model`` parameters; the generate config is one Inspect accepts; required hooks
are installed (with wandb.weave on, inspect-wandb's Weave hooks too, and W&B online); the log dir
is writable; W&B project and entity names are valid.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval_orchestrator import env, inspect_api
from eval_orchestrator.ecosystem import check_weave, load_entry_points
from eval_orchestrator.error_text import error_text
from eval_orchestrator.errors import ConfigError, UserError, from_os_error
from eval_orchestrator.job import CHECKPOINT_METADATA_KEYS, run_mode
from eval_orchestrator.run_config import RunConfig

TEMPLATE_FIELDS = frozenset({"path", "collection", "version", "digest"})
# get_model's own keyword parameters: a model arg of the same name would be passed twice.
GET_MODEL_PARAMETERS = frozenset({"model", "role", "required", "default", "config", "memoize"})
WANDB_PROJECT_FORBIDDEN = re.compile(r"[/\\#?%:]")
WANDB_ENTITY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_plan(config: RunConfig, environ: Mapping[str, str] | None = None) -> None:
    # first: the checks below look up what they register
    load_entry_points(config.wandb.weave, [task.spec for task in config.tasks])
    check_secrets(config, environ)
    check_model(config)
    check_selection(config)
    check_inspect_options(config)
    check_hooks(config)
    check_log_dir(config.inspect.log_dir)
    check_folder(config.wandb.dir or ".", "the W&B dir (WANDB_DIR / wandb.dir)")
    if config.store.artifact_dir:
        check_folder(config.store.artifact_dir, "the checkpoint store (WANDB_ARTIFACT_DIR / --artifact-dir)")
    check_wandb_names(config)


def check_selection(config: RunConfig) -> None:
    """Inspect refuses --limit with --sample-id, but only once the checkpoint is loaded: refused here."""
    if config.inspect.limit is not None and config.inspect.sample_id is not None:
        raise UserError("inspect.limit and inspect.sample_id (--limit, --sample-id) cannot be used together; keep one")
    if config.inspect.sample_shuffle not in (None, False) and config.inspect.sample_id is not None:
        raise UserError(
            "inspect.sample_shuffle and inspect.sample_id (--sample-shuffle, --sample-id) cannot be used together; "
            "keep one"
        )


def check_inspect_options(config: RunConfig) -> None:
    """What Inspect would refuse only once a checkpoint is loaded (its resolvers, run now), or ours."""
    if config.inspect.scan is not None:
        inspect_api.resolve_scanner(config.inspect.scan.model_dump())
    if config.inspect.sentinel is not None:
        inspect_api.sentinel_spec(config.inspect.sentinel, config.inspect.sentinel_args)
    elif config.inspect.sentinel_args:
        raise UserError("inspect.sentinel_args (--sentinel-arg) apply to a sentinel; give --sentinel")
    if config.inspect.solver_args and config.inspect.solver is None:
        raise UserError("inspect.solver_args (-S, --solver-config) apply to a solver; give --solver (inspect.solver)")
    if clash := sorted(set(CHECKPOINT_METADATA_KEYS) & set(config.inspect.metadata or {})):
        raise UserError(f"inspect.metadata (--metadata) key(s) {', '.join(clash)} are ours (the checkpoint "
                        "each eval measured); name yours otherwise")  # fmt: skip


def check_secrets(config: RunConfig, environ: Mapping[str, str] | None = None) -> None:
    missing = [s for s in config.secrets if not env.declared_secret(s.name, environ)]
    if missing:
        named = ", ".join(s.name + (f" ({s.description})" if s.description else "") for s in missing)
        raise ConfigError(f"declared secret(s) not set: {named}; export them or put them in .env (never in the config)")


def template_problem(text: str) -> str | None:
    """Why a model spec template cannot be filled (None when it can)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return f"{text!r} is not a valid template ({exc})"
    unknown = sorted(fields - TEMPLATE_FIELDS)
    if unknown:
        return f"{text!r} names {{{unknown[0]}}}; templates may use {{path}}, {{collection}}, {{version}}, {{digest}}"
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def check_model(config: RunConfig) -> None:
    model = config.model
    specs = {"model.name": model.name, **{f"model.roles.{role}": spec for role, spec in model.roles.items()}}
    for where, text in [*specs.items(), *(("model.args", s) for s in _strings(model.args))]:
        if problem := template_problem(text):
            raise ConfigError(f"{where}: {problem}")
    clash = sorted(GET_MODEL_PARAMETERS.intersection(model.args))
    if clash:
        raise ConfigError(
            f"model arg {clash[0]!r} (-M {clash[0]}=...) clashes with Inspect's own get_model parameter; "
            "generation settings go in model.generate (or --max-tokens, --temperature, ...)"
        )
    for where, spec in specs.items():
        check_provider(where, spec)
        check_local_server(where, spec, has_base_url="base_url" in model.args and where == "model.name")
    check_generate(model.generate)


def check_provider(where: str, spec: str) -> None:
    """The provider exists (built in, or registered by an installed package) and its dependencies import."""
    provider, sep, _ = spec.partition("/")
    if not sep or "{" in provider:
        raise ConfigError(f"{where}: {spec!r} should be '<provider>/<model>', e.g. hf/{{path}} or vllm/{{path}}")
    factories = inspect_api.model_providers()
    if provider not in factories:
        known = ", ".join(sorted(name for name in factories if not name.startswith("_"))[:12])
        raise ConfigError(f"{where}: unknown model provider {provider!r} (known: {known}, ...); check the spelling")
    try:
        factories[provider]()  # the provider's own dependency checks: imports, `pip install ...` hints
    except Exception as exc:
        raise UserError(f"{where}: the {provider!r} provider cannot load: {error_text(exc)}") from None


# Providers that start a local server from a package of their own unless given a running server's URL.
LOCAL_SERVERS = {"vllm": "vllm", "sglang": "sglang"}


def check_local_server(where: str, spec: str, has_base_url: bool) -> None:
    """`vllm/{path}` starts vLLM here, which needs the vllm package (Inspect's import check only covers
    the OpenAI client): without it and without a server URL, one line now rather than a traceback later."""
    import importlib.util

    provider = spec.partition("/")[0]
    package = LOCAL_SERVERS.get(provider)
    if package is None or has_base_url or env.get(f"{provider.upper()}_BASE_URL"):
        return
    if importlib.util.find_spec(package) is None:
        raise UserError(
            f"{where}: {spec!r} starts a local {provider} server, which needs the {package} package: "
            f"pip install {package}, or give -M base_url=http://HOST:PORT/v1 to use a running server"
        )


def check_generate(generate: Mapping[str, Any]) -> None:
    from inspect_ai.model import GenerateConfig
    from pydantic import ValidationError

    try:
        GenerateConfig(**generate)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "?"
        raise ConfigError(f"model.generate.{key}: {first['msg']} (Inspect's GenerateConfig)") from None
    except TypeError as exc:
        raise ConfigError(f"model.generate: {exc}") from None


def check_hooks(config: RunConfig) -> None:
    """Required hooks are installed; with wandb.weave on, inspect-wandb's Weave hooks are, and W&B is online."""
    if not config.hooks and not config.wandb.weave:
        return
    installed = inspect_api.installed_hook_names()
    missing = [name for name in config.hooks if name not in installed]
    if missing:
        raise ConfigError(
            f"required hook {missing[0]!r} is not installed (installed: {', '.join(sorted(installed))}); "
            "install the package that provides it, or remove it from hooks:"
        )
    if config.wandb.weave:
        check_weave(run_mode(config.wandb), installed)


def check_log_dir(log_dir: str) -> None:
    if "://" in log_dir:
        return  # a remote log dir (s3://...) is Inspect's to check
    check_folder(log_dir, f"the log dir {log_dir!r} (inspect.log_dir / --log-dir)")


def check_folder(folder: str | Path, what: str) -> None:
    """``folder`` is (or can be made) a folder we can write in."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{what}: {root} is a file, not a folder; point it at a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".eval-orchestrator-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise from_os_error(exc, what) from None


def check_wandb_names(config: RunConfig) -> None:
    project, entity = config.wandb.project, config.wandb.entity
    if project is not None and (not project.strip() or len(project) > 128 or WANDB_PROJECT_FORBIDDEN.search(project)):
        raise ConfigError(
            f"W&B project {project[:60]!r} (--wandb-project, WANDB_PROJECT or wandb.project) is not a valid name: "
            "at most 128 characters, none of / \\ # ? % :"
        )
    if entity is not None and not WANDB_ENTITY.match(entity):
        raise ConfigError(
            f"W&B entity {entity[:60]!r} (--wandb-entity, WANDB_ENTITY or wandb.entity) is not a valid name: "
            "letters, digits, '-' and '_'"
        )
