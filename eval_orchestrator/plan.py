"""Jobs: one per (checkpoint version x task x task args), with a stable key and the W&B group fields."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

METADATA_KEY = "eval_orchestrator"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Job:
    """Everything the tracking hook needs to know about one eval, carried in Inspect metadata."""

    collection: str
    version: str
    digest: str
    ref: str  # the reference pinned to the version, e.g. local-registry/tiny:v1
    requested_ref: str  # as the user wrote it, e.g. local-registry/tiny:latest
    aliases: list[str]
    task_spec: str
    task_name: str
    task_args: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    fewshot: int | None = None
    num_samples: int | None = None
    registry_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable across re-runs of the same plan: the checkpoint version, task and args."""
        ident = canonical_json([self.collection, self.version, self.digest, self.task_name, self.task_args])
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    @property
    def group(self) -> str:
        return f"{self.collection}:{self.version}"

    @property
    def args_suffix(self) -> str:
        """Short hash of the task args, to keep jobs of one task with other args apart."""
        if not self.task_args:
            return ""
        return hashlib.sha256(canonical_json(self.task_args).encode()).hexdigest()[:8]

    def to_metadata(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> Job:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)


def grouping_label(explicit: Any, args: dict[str, Any], *names: str) -> Any:
    """An explicit grouping value, else the first task arg of that meaning."""
    if explicit is not None:
        return explicit
    for name in names:
        if name in args:
            return args[name]
    return None
