"""Every environment variable eval-orchestrator reads or sets, declared once: its name, what it is
for, its default, and the run-config key it sets (as ``huggingface_hub/constants.py`` does).

No other module touches ``os.environ`` (a test enforces it); the README's table and
``.env.example`` are checked against this list. Values come from the process environment, which
already holds ``.env`` (loaded by the CLI; the process wins over the file).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

Environ = Mapping[str, str]


@dataclass(frozen=True)
class Variable:
    name: str
    doc: str
    group: str
    default: str | None = None  # as a user would write it; None: unset means "not given"
    config_key: str | None = None  # the dotted run-config key it sets (flags win, the YAML loses)
    reader: str = "eval-orchestrator"  # who reads it: us, or the library named
    secret: bool = False  # a credential: never logged, never written
    travels: bool = True  # given to Ray workers through their task's environment (runtime_env)


_W, _STORE, _S3, _HUB, _WATCH, _RAY, _DET, _MODEL, _DEV = (
    "W&B", "Checkpoint store and registry", "S3-compatible storage", "Hugging Face Hub", "watch", "Ray",
    "Determined", "Model providers", "Development and tests",
)  # fmt: skip

VARIABLES: tuple[Variable, ...] = (
    Variable("WANDB_API_KEY", "W&B API key; without it runs are logged offline (upload later with `sync`).", _W,
             secret=True),
    Variable("WANDB_PROJECT", "W&B project for eval runs.", _W, "eval-orchestrator", "wandb.project"),
    Variable("WANDB_ENTITY", "W&B entity (team or user); the key's default entity when unset.", _W,
             config_key="wandb.entity"),
    Variable("WANDB_MODE", "online, offline or disabled (auto: online with an API key, else offline).", _W, "auto",
             "wandb.mode"),
    Variable("WANDB_DIR", "Where wandb writes run files, under <dir>/wandb.", _W, ".", "wandb.dir"),
    Variable("WANDB_BASE_URL", "The W&B host, for W&B Server or dedicated cloud.", _W, "https://api.wandb.ai"),
    Variable("EVAL_ORCHESTRATOR_WANDB_INIT_TIMEOUT_SEC", "Seconds an online wandb.init may take before the run "
             "falls back to offline.", _W, "30", "wandb.init_timeout"),
    Variable("EVAL_ORCHESTRATOR_WANDB_FINISH_TIMEOUT_SEC", "Seconds a finishing run waits for its uploads; past "
             "it the data stays on disk for `sync`.", _W, "120", "wandb.finish_timeout"),
    Variable("WANDB_ERROR_REPORTING", "wandb's and Weave's crash reports to Sentry; we default it to false so "
             "nothing leaves the machine unasked.", _W, "false", reader="wandb"),
    Variable("WANDB_DISABLE_WEAVE", "wandb's own Weave auto-init; we default it to true (our runs trace "
             "nothing; `wandb.weave` traces through inspect-wandb).", _W, "true", reader="wandb"),
    Variable("WF_TRACE_SERVER_URL", "Weave's trace server, with `wandb.weave: true` (default: "
             "<WANDB_BASE_URL>/traces).", _W, reader="weave"),
    Variable("WANDB_SERVICE", "A parent process's wandb service; unset by the CLI so a killed run never keeps "
             "ours busy.", _W, reader="wandb", travels=False),
    Variable("WANDB_DATA_DIR", "Where wandb keeps staged artifacts.", _W, reader="wandb"),
    Variable("WANDB_CACHE_DIR", "wandb's artifact cache.", _W, reader="wandb"),
    Variable("WANDB_CONFIG_DIR", "wandb's settings and login.", _W, reader="wandb"),
    Variable("HTTPS_PROXY", "An HTTPS proxy: W&B's reachability probe then leaves the decision to it.", _W,
             reader="eval-orchestrator, requests"),
    Variable("https_proxy", "The same, lower case.", _W, reader="eval-orchestrator, requests"),
    Variable("WANDB_ARTIFACT_DIR", "Checkpoint store root (default: the user cache dir).", _STORE,
             config_key="store.artifact_dir"),
    Variable("EVAL_ORCHESTRATOR_REGISTRY", "Root of the embedded local registry (default: the user data dir).",
             _STORE, config_key="store.registry"),
    Variable("WANDB_CACHE_SKIP", "true: do not keep fetched checkpoints; each is removed when the command ends.",
             _STORE, "false", "store.cache_skip"),
    Variable("WANDB_ARTIFACT_WAIT_TIMEOUT_SEC", "Seconds to wait for '<name>:<alias>' while only an incomplete "
             "'<alias>-local' exists.", _STORE, "3600", "store.wait_timeout"),
    Variable("EVAL_ORCHESTRATOR_POLL_INTERVAL_SEC", "Seconds between checks while waiting for that upload.",
             _STORE, "15", "store.poll_interval"),
    Variable("EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS", "Parallel transfers: files, and ranges of large S3 objects.",
             _STORE, "8", "store.workers"),
    Variable("EVAL_ORCHESTRATOR_PART_SIZE_MB", "Size (MiB) of the ranged requests a large S3 object is fetched "
             "in.", _STORE, "64", "store.part_size_mb"),
    Variable("EVAL_ORCHESTRATOR_DOWNLOAD_RETRIES", "Attempts per S3 request before a download fails.", _STORE,
             "8", "store.retries"),
    Variable("AWS_ENDPOINT_URL_S3", "S3-compatible endpoint (MinIO, Ceph, R2...), with http(s)://; the first set "
             "of these three wins.", _S3, reader="eval-orchestrator, boto3"),
    Variable("AWS_S3_ENDPOINT_URL", "The same (the name W&B's own S3 handler reads).", _S3,
             reader="eval-orchestrator, wandb"),
    Variable("AWS_ENDPOINT_URL", "The same, for every AWS service.", _S3, reader="eval-orchestrator, boto3"),
    Variable("AWS_ACCESS_KEY_ID", "S3 credentials (boto3's chain: these, AWS_PROFILE, or an instance role).", _S3,
             reader="boto3", secret=True),
    Variable("AWS_SECRET_ACCESS_KEY", "The same.", _S3, reader="boto3", secret=True),
    Variable("AWS_SESSION_TOKEN", "The same, for temporary credentials.", _S3, reader="boto3", secret=True),
    Variable("AWS_PROFILE", "A named profile of the AWS config.", _S3, reader="boto3"),
    Variable("AWS_DEFAULT_REGION", "The bucket's region.", _S3, "us-east-1", reader="boto3"),
    Variable("AWS_CONFIG_FILE", "The AWS config file.", _S3, reader="boto3"),
    Variable("AWS_SHARED_CREDENTIALS_FILE", "The AWS credentials file.", _S3, reader="boto3"),
    Variable("AWS_EC2_METADATA_DISABLED", "true: boto3 asks no instance metadata service.", _S3, reader="boto3"),
    Variable("HF_TOKEN", "A token with write access to the --hf-upload-repo; never logged.", _HUB,
             reader="huggingface_hub", secret=True),
    Variable("HF_ENDPOINT", "The Hub's host.", _HUB, "https://huggingface.co",
             reader="eval-orchestrator, huggingface_hub"),
    Variable("HF_HOME", "huggingface_hub's cache and token folder.", _HUB, reader="huggingface_hub"),
    Variable("HF_HUB_OFFLINE", "1: huggingface_hub reaches no network (models load from local paths).", _HUB,
             reader="huggingface_hub"),
    Variable("TRANSFORMERS_OFFLINE", "1: transformers reaches no network.", _HUB, reader="transformers"),
    Variable("INSPECT_LOG_DIR", "Inspect's default log dir (ours is inspect.log_dir, per version).", _MODEL,
             reader="inspect_ai"),
    Variable("INSPECT_DISPLAY", "Inspect's display mode (--display).", _MODEL, reader="inspect_ai"),
    Variable("EVAL_ORCHESTRATOR_WEBHOOK_TOKEN", "`watch --listen`: the bearer token W&B's webhook sends (a team "
             "secret in W&B); required to listen, compared in constant time.", _WATCH, secret=True),
    Variable("RAY_ADDRESS", "The Ray cluster `executor: ray` runs on (--ray-address wins); unset: a local Ray "
             "instance on 127.0.0.1, for the run.", _RAY, config_key="executor.address",
             reader="eval-orchestrator, ray", travels=False),
    Variable("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "Set to 0 by us while Ray starts, so its nodes bind 127.0.0.1 "
             "rather than this machine's network address.", _RAY, "0", reader="ray", travels=False),
    Variable("RAY_LOGGER_LEVEL", "Log level of the Ray processes of the local instance (warning: Ray's runtime env "
             "agent logs every task's env vars, declared secrets included, at info). Set it on your cluster's "
             "nodes too.", _RAY, "warning", reader="ray", travels=False),
    Variable("DET_MASTER", "The Determined master, e.g. https://det.example.com:8080.", _DET,
             reader="eval-orchestrator, determined"),
    Variable("DET_MASTER_ADDR", "The same, read when DET_MASTER is unset.", _DET,
             reader="eval-orchestrator, determined"),
    Variable("DET_USER", "A Determined user who may create experiments.", _DET, reader="determined"),
    Variable("DET_PASS", "That user's password.", _DET, reader="determined", secret=True),
    Variable("VLLM_BASE_URL", "A running vLLM server for vllm/ specs (else one is started here).", _MODEL,
             reader="eval-orchestrator, inspect_ai"),
    Variable("SGLANG_BASE_URL", "A running SGLang server for sglang/ specs.", _MODEL,
             reader="eval-orchestrator, inspect_ai"),
    Variable("EVAL_ORCHESTRATOR_DEBUG", "1: an unexpected error (exit 70) shows its traceback.", _DEV),
    Variable("EVAL_ORCHESTRATOR_TEST_KILL_AT", "Tests only: kill -9 the watcher when its ledger reaches this "
             "state.", _DEV, travels=False),
    Variable("EVAL_ORCHESTRATOR_TEST_WANDB_PROJECT", "Tests only: 'entity/project' to run the W&B contract tests "
             "against real W&B too (needs WANDB_API_KEY).", _DEV, reader="tests", travels=False),
)  # fmt: skip

BY_NAME: dict[str, Variable] = {variable.name: variable for variable in VARIABLES}


def _declared(name: str) -> Variable:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in eval_orchestrator/env.py") from None


def get(name: str, environ: Environ | None = None) -> str | None:
    """The variable's value, or None when unset or empty (an empty value in .env means "not given")."""
    _declared(name)
    value = (os.environ if environ is None else environ).get(name)
    return value if value else None


def declared_secret(name: str, environ: Environ | None = None) -> str | None:
    """A secret the run config declares by name (``secrets:``): the user names it, so it is not in
    this list; its value is read here only to check it is set, and reaches evals through the environment."""
    value = (os.environ if environ is None else environ).get(name)
    return value if value else None


def first(names: tuple[str, ...], environ: Environ | None = None) -> tuple[str, str] | None:
    """(name, value) of the first of ``names`` that is set."""
    for name in names:
        if (value := get(name, environ)) is not None:
            return name, value
    return None


def config_overrides(environ: Environ | None = None) -> dict[str, str]:
    """Dotted run-config key -> value, for every variable that sets one and is set."""
    return {v.config_key: value for v in VARIABLES if v.config_key and (value := get(v.name, environ)) is not None}


def variable_for(config_key: str) -> Variable | None:
    """The variable that sets ``config_key`` (dotted), if one does."""
    return next((v for v in VARIABLES if v.config_key == config_key), None)


def snapshot() -> dict[str, str]:
    """The whole process environment (for child processes)."""
    return dict(os.environ)


def set_default(name: str, value: str) -> None:
    """Set ``name`` unless the user set it (our defaults for libraries that read the environment)."""
    _declared(name)
    os.environ.setdefault(name, value)


def unset(name: str) -> None:
    _declared(name)
    os.environ.pop(name, None)


def load_dotenv_file() -> str | None:
    """The nearest .env (from the working dir up) into the process environment, under what is set
    already (the process environment wins: one precedence order); its path, or None. The CLI loads it
    at start, the library when it builds a config; `make quickstart` writes one for its registry."""
    from dotenv import find_dotenv, load_dotenv

    found = find_dotenv(usecwd=True)
    if not found:
        return None
    try:
        load_dotenv(found, override=False)
    except (UnicodeDecodeError, ValueError) as exc:
        from eval_orchestrator.errors import ConfigError

        raise ConfigError(
            f"the .env file {found} cannot be read ({type(exc).__name__}); it must be UTF-8 KEY=value lines"
        ) from None
    return found


def required_hooks(environ: Environ | None = None) -> frozenset[str]:
    """Inspect's INSPECT_REQUIRED_HOOKS (ours sets it around each eval_set): the hooks an eval needs.
    Our hooks are enabled only where it names them, so a plain `inspect eval` does not list them."""
    return _hook_names((os.environ if environ is None else environ).get("INSPECT_REQUIRED_HOOKS", ""))


@functools.lru_cache(maxsize=8)
def _hook_names(value: str) -> frozenset[str]:
    # Inspect asks each hook's enabled() at every sample event: parsed once per value, not per call.
    return frozenset(name.strip() for name in value.split(",") if name.strip())


@contextlib.contextmanager
def scoped(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in the process environment for a block (what Inspect and its hooks read), then
    restored. Names other libraries own (INSPECT_*, their switches) are passed through, not declared:
    they are theirs to document."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def for_workers(declared_secrets: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment a remote worker's task gets: every declared variable that travels and is set,
    and the run's declared secrets (by name: their values come from here, never from a file)."""
    out = {v.name: value for v in VARIABLES if v.travels and (value := get(v.name)) is not None}
    out.update({name: value for name in declared_secrets if (value := declared_secret(name)) is not None})
    return out


def markdown_table() -> str:
    """The README's table of variables, generated from this list."""
    lines = ["| variable | default | config key | read by | what it is for |", "|---|---|---|---|---|"]
    for v in VARIABLES:
        default = f"`{v.default}`" if v.default else ""
        key = f"`{v.config_key}`" if v.config_key else ""
        lines.append(f"| `{v.name}` | {default} | {key} | {v.reader} | {v.doc} |")
    return "\n".join(lines)
