"""The contracts that travel with every eval: the job, the resolved tracking settings, and the
metadata our launch puts on each Inspect task for the hooks to read back.

One definition each, validated wherever they are read (Inspect metadata, a results summary, the
W&B spool): a renamed field fails in mypy and in the test suite, not days later in ``sync``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

from eval_orchestrator import env
from eval_orchestrator.checkpoint import VersionId
from eval_orchestrator.errors import RefError, SpoolError
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.run_config import HubConfig, RunConfig, WandbConfig

METADATA_KEY = "eval_orchestrator"
# The eval-level metadata keys we set on each eval (launch.checkpoint_metadata); a user's --metadata
# may not take them.
CHECKPOINT_METADATA_KEYS = (
    "eval_orchestrator_checkpoint",
    "checkpoint_name",
    "checkpoint_version",
    "checkpoint_digest",
)
DEFAULT_PROJECT = "eval-orchestrator"

WandbRunMode = Literal["online", "offline", "disabled"]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class FrozenContract(BaseModel):
    # Frozen and strict about keys: a contract read back with a key it does not know was written
    # by another version of this package, and says so instead of dropping data.
    model_config = ConfigDict(frozen=True, extra="forbid")


def args_suffix(task_args: Mapping[str, Any]) -> str:
    """Short hash of a task's args, to keep jobs of one task with other args apart ('' for none)."""
    if not task_args:
        return ""
    return hashlib.sha256(canonical_json(task_args).encode()).hexdigest()[:8]


class Job(FrozenContract):
    """One eval: a checkpoint version x a task x its args, and the W&B grouping fields."""

    collection: str
    version: str
    digest: str
    ref: CheckpointRef  # the reference pinned to the version, e.g. local-registry/tiny:v1
    requested_ref: CheckpointRef  # as the user wrote it, e.g. local-registry/tiny:latest
    aliases: tuple[str, ...] = ()
    task_spec: str
    task_name: str
    task_args: dict[str, Any] = Field(default_factory=dict)  # the user's -T values, as given
    language: str | None = None
    fewshot: int | None = None
    num_samples: int | None = None
    registry_metadata: dict[str, Any] = Field(default_factory=dict)  # secret-looking values redacted
    variant: dict[str, Any] = Field(default_factory=dict)  # the plan's result-changing options (plan_variant)
    task_version: int | str = 0  # the Task's own version

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        # `key` is derived (and serialised for readers of summary.json), never an input.
        if isinstance(data, dict) and "key" in data:
            data = {k: v for k, v in data.items() if k != "key"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        """Stable across re-runs of the same plan: the checkpoint version, task and args, and whatever
        else changes a result (sample count, task version, the plan's variant). Parts at their
        defaults are left out, so a default plan keeps the key (and W&B run) it always had."""
        parts: list[Any] = [self.collection, self.version, self.digest, self.task_name, self.task_args]
        extra = {"num_samples": self.num_samples, "task_version": self.task_version or None, "variant": self.variant}
        if any(extra.values()):
            parts.append({k: v for k, v in extra.items() if v})
        ident = canonical_json(parts)
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    @property
    def version_id(self) -> VersionId:
        return VersionId(self.ref.collection_ref, self.version, self.digest)

    @property
    def group(self) -> str:
        return f"{self.collection}:{self.version}"

    @property
    def args_suffix(self) -> str:
        return args_suffix(self.task_args)

    @property
    def label(self) -> str:
        return f"{self.group}/{self.task_name}"


def run_mode(wandb: WandbConfig) -> WandbRunMode:
    """wandb.mode, with ``auto`` online when a WANDB_API_KEY is set, else offline."""
    if wandb.mode == "auto":
        return "online" if env.get("WANDB_API_KEY") else "offline"
    return wandb.mode


class GitInfo(FrozenContract):
    """The code's git commit and remote (credentials stripped), read once per plan for every W&B run:
    W&B would run git for each run otherwise (a third of a run's start on an offline run)."""

    root: str | None = None  # the repository's top folder (None: not in a repository)
    commit: str | None = None
    remote_url: str | None = None


class TrackingSettings(FrozenContract):
    """How the tracker logs a job to W&B, resolved once from the run config (never a secret)."""

    project: str
    entity: str | None = None
    mode: WandbRunMode
    dir: str  # absolute; W&B's run files and our spool live under <dir>/wandb
    tags: tuple[str, ...] = ()
    config: dict[str, Any] = Field(default_factory=dict)  # extra run config keys (redacted when logged)
    link_results: str | None = None
    init_timeout: float = 30
    finish_timeout: float = 120
    hf_upload_repo: str | None = None
    hf_upload_dir: str = "eval-results"
    weave: bool = False  # wandb.weave: Weave traces beside our runs
    secrets: tuple[str, ...] = ()  # the declared secrets' names: their values are scrubbed from what we write
    environment: str | None = None  # the plan's installed packages (name==version), for each results artifact
    git: GitInfo | None = None  # None: each run asks git itself (read once per plan by orchestrate.run)

    @classmethod
    def from_config(cls, config: RunConfig) -> TrackingSettings:
        settings = cls.from_sections(config.wandb, config.hub)
        return settings.model_copy(update={"secrets": tuple(secret.name for secret in config.secrets)})

    @classmethod
    def from_sections(cls, wandb: WandbConfig, hub: HubConfig | None = None) -> TrackingSettings:
        """``auto`` mode becomes online with a WANDB_API_KEY, else offline; the W&B dir is made."""
        hub = hub or HubConfig()
        wandb_dir = Path(wandb.dir or ".").resolve()
        wandb_dir.mkdir(parents=True, exist_ok=True)
        same = wandb.model_dump(include={"entity", "tags", "config", "link_results", "init_timeout", "finish_timeout",
                                         "weave"})  # fmt: skip
        return cls(
            **same,
            project=wandb.project or DEFAULT_PROJECT,
            mode=run_mode(wandb),
            dir=str(wandb_dir),
            hf_upload_repo=hub.upload_repo,
            hf_upload_dir=hub.upload_dir,
        )

    def offline(self) -> TrackingSettings:
        return self.model_copy(update={"mode": "offline"})


class EvalMetadata(FrozenContract):
    """What our launch puts on each Inspect task (``metadata[METADATA_KEY]``) for our hooks."""

    job: Job
    tracking: TrackingSettings
    log_dir: str  # the eval_set log dir of the job's checkpoint version

    def to_inspect(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_inspect(cls, metadata: dict[str, Any] | None) -> EvalMetadata | None:
        """Ours, read back from an Inspect task's metadata; None for an eval that is not ours.

        A log written by another version of eval-orchestrator is not ours either: its job is not
        one this plan can name.
        """
        ours = (metadata or {}).get(METADATA_KEY)
        if not isinstance(ours, dict):
            return None
        try:
            return cls.model_validate(ours)
        except ValidationError:
            return None


ModelT = TypeVar("ModelT", bound=BaseModel)


def read_contract(model: type[ModelT], data: Any, where: str) -> ModelT:
    """Validate ``data`` as ``model``, or one line naming the file and the first problem."""
    try:
        return model.model_validate(data)
    except RecursionError:
        raise SpoolError(f"{where}: nested too deeply to be a record; move it aside and run again") from None
    except RefError as exc:  # a reference inside the record that does not parse
        raise SpoolError(f"{where}: {exc}; move it aside and run again") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<record>"
        raise SpoolError(
            f"{where}: {field}: {first['msg']}; it was written by another version of eval-orchestrator "
            "or damaged: move it aside and run again"
        ) from None
