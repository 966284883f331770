"""The run config's schema: pydantic models, one per section, with a description on every key.

Loading (YAML, environment, flags, one precedence order) is ``config.py``'s.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from eval_orchestrator.credentials import credential_path
from eval_orchestrator.errors import ConfigError
from eval_orchestrator.executor_config import ExecutorConfig
from eval_orchestrator.redact import secret_path
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.scan_options import ScanOptions
from eval_orchestrator.strict import StrictModel
from eval_orchestrator.watch_config import WatchConfig

WandbMode = Literal["auto", "online", "offline", "disabled"]
WandbWriter = Literal["auto", "process", "inline"]  # where the W&B SDK's per-run work runs


class TaskConfig(StrictModel):
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


class InspectOptions(StrictModel):
    """Options passed through to ``inspect_ai.eval_set``."""

    # Upper bounds: a number that would run (or wait) for ever is a typo, refused naming its key.
    limit: int | None = Field(default=None, ge=1, le=10**9, description="Samples per task (all when unset).")
    epochs: int = Field(default=1, ge=1, le=10_000, description="Epochs per sample.")
    max_tasks: int | None = Field(default=None, ge=1, le=10_000, description="Tasks run in parallel.")
    max_samples: int | None = Field(default=None, ge=1, le=100_000, description="Samples run in parallel per task.")
    log_dir: str = Field(default="logs", description="Root of Inspect logs; one subfolder per checkpoint version.")
    display: Literal["full", "conversation", "rich", "plain", "log", "none"] | None = Field(
        default=None, description="Inspect display: full, conversation, rich, plain, log, none."
    )
    retry_attempts: int = Field(default=0, ge=0, le=100, description="eval_set retries of a failed task.")
    fail_on_error: bool | float | None = Field(
        default=None, description="Inspect's fail_on_error (a bool or the tolerated error fraction)."
    )
    sample_id: list[str] | None = Field(default=None, description="Evaluate only these sample ids (--sample-id).")
    epochs_reducer: list[str] | None = Field(
        default=None,
        description="How epochs reduce to a sample's score: mean, mode, max, median, at_least_N, pass_at_N.",
    )
    time_limit: int | None = Field(default=None, ge=1, description="Seconds a sample may take (--time-limit).")
    message_limit: int | None = Field(default=None, ge=1, description="Messages a sample may use (--message-limit).")
    token_limit: int | None = Field(default=None, ge=1, description="Tokens a sample may use (--token-limit).")
    sample_shuffle: bool | int | None = Field(
        default=None, description="Shuffle the samples (true, or an int seed for a fixed order) (--sample-shuffle)."
    )
    working_limit: int | None = Field(default=None, ge=1, description="Working seconds a sample may use.")
    turn_limit: int | None = Field(default=None, ge=1, description="Model generations a sample may use.")
    cost_limit: float | None = Field(default=None, gt=0, description="Dollars a sample may cost (--cost-limit).")
    model_cost_config: str | None = Field(default=None, description="YAML/JSON file of model prices (cost limits).")
    continue_on_fail: bool | None = Field(default=None, description="Past the error threshold, finish the samples.")
    retry_on_error: int | None = Field(default=None, ge=0, le=100, description="Retries of a sample that errors.")
    score_on_error: bool | None = Field(default=None, description="Score samples that error instead of failing.")
    max_subprocesses: int | None = Field(default=None, ge=1, le=10_000, description="Subprocesses in parallel.")
    max_sandboxes: int | None = Field(default=None, ge=1, le=10_000, description="Sandboxes in parallel.")
    max_dataset_memory: int | None = Field(default=None, ge=0, description="MB of samples held in memory per task.")
    sandbox: str | None = Field(default=None, description="Sandbox for tasks that declare none, e.g. docker.")
    sandbox_cleanup: bool | None = Field(default=None, description="Clean up sandboxes after each task.")
    sandbox_prebuilt: bool | None = Field(default=None, description="Treat sandbox images as prebuilt.")
    approval: str | None = Field(default=None, description="Tool-call approval policy file (--approval).")
    review: str | None = Field(default=None, description="Tool-result review policy file (--review).")
    notification: bool | str | None = Field(default=None, description="Human-in-the-loop notifications.")
    solver: str | None = Field(default=None, description="A solver replacing the tasks' own (--solver).")
    solver_args: dict[str, Any] | None = Field(default=None, description="The solver's args (-S, --solver-config).")
    sentinel: str | None = Field(default=None, description="A sentinel monitor or protocol, or its config file.")
    sentinel_args: list[str] | None = Field(default=None, description="KEY=VALUE args of the sentinel.")
    scan: ScanOptions | None = Field(default=None, description="Inspect Scout scanners after each sample (--scanner).")
    tags: list[str] | None = Field(default=None, description="Tags of the Inspect logs (--tags).")
    metadata: dict[str, str] | None = Field(default=None, description="Metadata of the Inspect logs (--metadata).")
    log_realtime: bool | None = Field(default=None, description="Log sample events as they happen.")
    log_images: bool | None = Field(default=None, description="Keep inline images in the log.")
    log_model_api: bool | None = Field(default=None, description="Log raw model API requests and responses.")
    log_refusals: bool | None = Field(default=None, description="Warn on model refusals.")
    log_buffer: int | None = Field(default=None, ge=1, description="Samples buffered before the log is written.")
    log_shared: bool | int | None = Field(default=None, description="Sync sample events to the log dir (seconds).")
    score_display: bool | None = Field(default=None, description="Show scoring metrics as the eval runs.")
    log_dir_allow_dirty: bool = Field(
        default=True,
        description="Let eval_set run in a version's log dir holding other plans' logs (so plans on one version "
        "coexist: eval_set tells their logs apart); false refuses such a dir, as Inspect's default does.",
    )

    # The options eval_set takes as they are, under the same names (a test checks each is one of its
    # parameters): a new one is a field here and its flag in cli/options.py, and reaches Inspect.
    PASSED_TO_EVAL_SET: ClassVar[tuple[str, ...]] = (
        "limit", "sample_id", "time_limit", "message_limit", "token_limit", "log_dir_allow_dirty", "max_tasks",
        "max_samples", "retry_attempts", "fail_on_error", "display", "sample_shuffle", "working_limit", "turn_limit",
        "cost_limit", "model_cost_config", "continue_on_fail", "retry_on_error", "score_on_error", "max_subprocesses",
        "max_sandboxes", "max_dataset_memory", "sandbox", "sandbox_cleanup", "sandbox_prebuilt", "approval", "tags",
        "review", "notification",
        "log_realtime", "log_images", "log_model_api", "log_refusals", "log_buffer", "log_shared", "score_display",
    )  # fmt: skip

    def eval_set_args(self) -> dict[str, Any]:
        """The keyword arguments of ``inspect_ai.eval_set`` these options set (the log dir is per version)."""
        from inspect_ai import Epochs

        # Unset options are left to Inspect's own defaults (and its INSPECT_EVAL_* variables).
        args = {k: v for k, v in self.model_dump(include=set(self.PASSED_TO_EVAL_SET)).items() if v is not None}
        # An empty reducer list is --no-epochs-reducer: each epoch's score kept.
        args["epochs"] = Epochs(self.epochs, self.epochs_reducer) if self.epochs_reducer is not None else self.epochs
        if self.sentinel is not None:
            from eval_orchestrator.inspect_api import sentinel_spec

            args["sentinel"] = sentinel_spec(self.sentinel, self.sentinel_args)
        if self.scan is not None:
            from eval_orchestrator.inspect_api import resolve_scanner

            args["scanner"] = resolve_scanner(self.scan.model_dump())
        if self.solver is not None:
            from inspect_ai.solver import SolverSpec

            solver_args = dict(self.solver_args or {})
            args["solver"] = SolverSpec(self.solver, solver_args, solver_args)  # as `inspect eval` builds it
        args["retry_immediate"] = self.retry_attempts > 0
        return args


class ModelConfig(StrictModel):
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
    roles: dict[str, str] = Field(
        default_factory=dict,
        description="Model roles (grader, judge, ...): role -> model spec, templated like name (--model-role).",
    )
    generate: dict[str, Any] = Field(
        default_factory=dict, description="Inspect GenerateConfig fields, e.g. max_tokens, do_sample."
    )

    @model_validator(mode="after")
    def _hf_args_for_hf_only(self) -> ModelConfig:
        # The default args load the checkpoint through hf/; another provider (openai-api, vllm, a
        # plugin) would get model_path it does not take, so it gets none unless the plan gives some.
        if "args" not in self.model_fields_set and not self.name.startswith("hf/"):
            self.args = {}
        return self


class WandbConfig(StrictModel):
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
    writer: WandbWriter = Field(
        default="auto",
        description="Where the W&B SDK's per-run work runs: process (a writer process beside the evals, on "
        "another core), inline (in the eval process), or auto (a process for plans of 16 jobs or more).",
    )
    weave: bool = Field(
        default=False,
        description="Trace each eval to Weave beside our W&B run, through inspect-wandb's Weave hooks "
        "(pip install 'inspect-wandb[weave]'; W&B online), with the checkpoint name, version and digest as the "
        "Weave evaluation's attributes. Off: Weave is never imported, nothing is traced or suggested.",
    )


class HubConfig(StrictModel):
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


class StoreConfig(StrictModel):
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
        le=7 * 86_400,  # a week; also refuses inf and nan
        description="WANDB_ARTIFACT_WAIT_TIMEOUT_SEC: how long to wait for '<name>:<alias>' while only an "
        "incomplete '<alias>-local' exists.",
    )
    poll_interval: float = Field(
        default=15, gt=0, le=3600, description="Seconds between checks while waiting for an upload to finish."
    )


class SecretConfig(StrictModel):
    """A secret the evals need, declared by name (Hawk's habit): its value comes from the environment
    (or .env) only, is checked before any checkpoint work, and is never written anywhere."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", description="The environment variable.")
    description: str | None = Field(default=None, description="What it is for (shown when it is missing).")


class RunConfig(StrictModel):
    """Everything one ``eval-orchestrator run`` needs."""

    checkpoints: list[CheckpointRef] = Field(
        min_length=1,
        description="Checkpoint references to evaluate: 'ref' or {ref: 'ref'} (a watch plan: its watch.collections).",
    )
    tasks: list[TaskConfig] = Field(
        min_length=1, description="Inspect tasks run on every checkpoint: 'file.py@task' or {spec: ..., args: ...}."
    )
    inspect: InspectOptions = Field(default_factory=InspectOptions)
    model: ModelConfig = Field(default_factory=ModelConfig)
    hooks: list[str] = Field(default_factory=list, description="Extra Inspect hooks that must be installed.")
    wandb: WandbConfig = Field(default_factory=WandbConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    watch: WatchConfig | None = Field(default=None, description="`eval-orchestrator watch`: what to watch and gate.")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="Where the evals run.")
    secrets: list[SecretConfig] = Field(
        default_factory=list, description="Environment variables the evals need: 'NAME' or {name, description}."
    )

    @field_validator("secrets", mode="before")
    @classmethod
    def _secret_shorthand(cls, value: Any) -> Any:
        return (
            [{"name": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value
        )

    @model_validator(mode="after")
    def _no_secret_values(self) -> RunConfig:
        """A secret-looking key with a value would be written into logs, W&B and artifacts: refused."""
        trees: list[tuple[str, Any]] = [(f"tasks[{i}].args", t.args) for i, t in enumerate(self.tasks)]
        trees += [("model.args", self.model.args), ("model.generate", self.model.generate)]
        trees += [("wandb.config", self.wandb.config)]
        for where, tree in trees:
            if found := secret_path(tree):
                key = found.split(".")[-1].split("[")[0]
                raise ConfigError(
                    f"{where}: {found!r} looks like a secret, and its value would be written into logs, W&B and "
                    f"artifacts; declare it under secrets: (or --secret {key.upper()}) and have the task or "
                    "provider read it from the environment"
                )
        # A credential under a harmless key (-T note=sk-..., a role spec, a W&B tag) would be written too.
        trees += [("model.roles", self.model.roles), ("model.name", self.model.name), ("wandb.tags", self.wandb.tags)]
        for where, tree in trees:
            if shaped := credential_path(tree, where):
                raise ConfigError(
                    f"{shaped[0]} holds what looks like a {shaped[1]}; it would be written into logs, W&B and "
                    "artifacts: put it in the environment, declare its name under secrets: (or --secret NAME), "
                    "and have the task or provider read it from there"
                )
        return self

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_shorthand(cls, value: Any) -> Any:
        # `tasks: [a.py@x, inspect_evals/gsm8k]`, as Inspect's CLI, Hawk and Inspect Flow accept them.
        return (
            [{"spec": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value
        )

    @field_validator("checkpoints", mode="before")
    @classmethod
    def _checkpoint_mapping(cls, value: Any) -> Any:
        # `checkpoints: [{ref: ...}]`, the mapping form beside the plain string.
        if isinstance(value, list):
            return [item["ref"] if isinstance(item, dict) and set(item) == {"ref"} else item for item in value]
        return value
