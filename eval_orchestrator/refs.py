"""Checkpoint reference grammar (parse / format), no I/O.

Users paste what the W&B UI shows, so we accept W&B's own forms:

    wandb-registry-model/<collection>:<alias|vN>
    <org>/wandb-registry-model/<collection>:<alias|vN>
    <entity>/<project>/<name>:<alias|vN>
    <entity>/model-registry/<name>:<alias|vN>          (legacy model registry)

and the embedded registry's ``local-registry/<collection>:<alias|vN>``.
A missing ``:<alias>`` means ``latest``, as in W&B.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from eval_orchestrator.errors import RefError

LOCAL_PREFIX = "local-registry"
REGISTRY_PROJECT_PREFIX = "wandb-registry-"
LEGACY_REGISTRY_PROJECT = "model-registry"
DEFAULT_ALIAS = "latest"

# One grammar for every name a user gives us (collections, aliases, entities, projects), W&B's own:
# letters, digits, '-', '_', '.', at most 128 characters. Stricter in one way, since names become
# folders: no leading '.', so neither '.' nor '..' nor a hidden staging folder can be named.
NAME_MAX = 128
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
VERSION_PATTERN = re.compile(r"^v(\d+)$")
NAME_RULE = f"may only hold letters, digits, '-', '_' and '.', not start with '.', and be at most {NAME_MAX} long"


def name_problem(text: str) -> str | None:
    """Why ``text`` is not a valid name or alias (None when it is)."""
    if NAME_PATTERN.match(text):
        return None
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"{shown!r} {NAME_RULE}"


Backend = Literal["local", "wandb"]


class _TextValue:
    """A value parsed from its text once, where it enters (a config, a flag, a file, a listing), and
    carried typed from there; pydantic models hold it as such and write it back as its text."""

    @classmethod
    def parse(cls, text: str) -> Any:
        raise NotImplementedError

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def coerce(value: Any) -> Any:
            if isinstance(value, cls):
                return value
            if not isinstance(value, str):
                raise ValueError(f"a checkpoint reference is text, not a {type(value).__name__}")
            return cls.parse(value)  # a RefError: one line of its own, not wrapped by pydantic

        return core_schema.no_info_plain_validator_function(
            coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
            json_schema_input_schema=core_schema.str_schema(),
        )


@dataclass(frozen=True)
class CollectionRef(_TextValue):
    """A collection of a registry, without an alias: what is watched, listed and promoted in."""

    backend: Backend
    name: str
    project: str | None = None
    entity: str | None = None

    @classmethod
    def parse(cls, text: str) -> CollectionRef:
        ref = parse_ref(text)
        if ":" in text:
            raise _fail(text, "a collection takes no ':<alias>'")
        return ref.collection_ref

    def at(self, alias: str) -> CheckpointRef:
        return CheckpointRef(self.backend, self.name, alias, self.project, self.entity)

    def __str__(self) -> str:
        return format_ref(self.at(DEFAULT_ALIAS)).rsplit(":", 1)[0]


@dataclass(frozen=True)
class CheckpointRef(_TextValue):
    """A parsed checkpoint reference. ``alias`` holds either an alias or a version ``vN``."""

    backend: Backend
    collection: str  # the collection's name (as everywhere: "tiny", never "local-registry/tiny")
    alias: str = DEFAULT_ALIAS
    project: str | None = None  # W&B project: "wandb-registry-model", "model-registry", a team project
    entity: str | None = None  # W&B entity or org; None means "the default one"

    @classmethod
    def parse(cls, text: str) -> CheckpointRef:
        return parse_ref(text)

    @property
    def version_index(self) -> int | None:
        """N for a ``vN`` reference, None for an alias."""
        match = VERSION_PATTERN.match(self.alias)
        return int(match.group(1)) if match else None

    @property
    def is_registry(self) -> bool:
        return self.project is not None and self.project.startswith(REGISTRY_PROJECT_PREFIX)

    @property
    def collection_ref(self) -> CollectionRef:
        return CollectionRef(self.backend, self.collection, self.project, self.entity)

    def with_alias(self, alias: str) -> CheckpointRef:
        return CheckpointRef(self.backend, self.collection, alias, self.project, self.entity)

    def __str__(self) -> str:
        return format_ref(self)


@dataclass(frozen=True)
class WatchTarget(_TextValue):
    """An entry of ``watch.collections``: a collection (every new version of it), or
    '<collection>:<alias>' (every version that alias moves to)."""

    collection: CollectionRef
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> WatchTarget:
        ref = parse_ref(text)
        return cls(ref.collection_ref, ref.alias if ":" in text else None)

    def covers(self, ref: CheckpointRef) -> bool:
        return ref.collection_ref == self.collection

    def __str__(self) -> str:
        return str(self.collection) + (f":{self.alias}" if self.alias else "")


def version_number(version: str) -> int:
    """N of 'vN' (the order versions were registered in); -1 for anything else."""
    match = VERSION_PATTERN.match(version)
    return int(match.group(1)) if match else -1


def alias_problem(alias: str) -> str | None:
    """Why ``alias`` cannot be an alias (None when it can): the name grammar, and never 'vN' (W&B's
    version index)."""
    if problem := name_problem(alias):
        return f"alias {problem}"
    if VERSION_PATTERN.match(alias):
        return f"alias {alias!r} looks like a version (vN), which W&B reserves; pick another name, e.g. prod"
    return None


def _fail(text: str, why: str) -> RefError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return RefError(
        f"invalid checkpoint reference {shown!r}: {why}; expected e.g. "
        "'local-registry/<collection>:<alias|vN>' or 'wandb-registry-model/<collection>:<alias|vN>'"
    )


def parse_ref(text: str) -> CheckpointRef:
    """Parse a checkpoint reference, raising RefError with a one-line explanation."""
    raw = text.strip()
    if not raw:
        raise _fail(text, "it is empty")
    path, sep, alias = raw.partition(":")
    if sep:
        if not alias:
            raise _fail(text, "nothing after ':'")
        if problem := name_problem(alias):
            raise _fail(text, f"alias {problem}")
    else:
        alias = DEFAULT_ALIAS
    parts = path.split("/")
    if any(not p for p in parts):
        raise _fail(text, "empty path segment")
    for part in parts:
        if problem := name_problem(part):
            raise _fail(text, f"segment {problem}")

    if len(parts) == 2 and parts[0] == LOCAL_PREFIX:
        return CheckpointRef("local", parts[1], alias)
    if len(parts) == 2 and parts[0].startswith(REGISTRY_PROJECT_PREFIX):
        return CheckpointRef("wandb", parts[1], alias, project=parts[0])
    if len(parts) == 3:
        entity, project, name = parts
        if project == LOCAL_PREFIX or entity == LOCAL_PREFIX:
            raise _fail(text, "the local registry takes no entity: use 'local-registry/<collection>:<alias>'")
        return CheckpointRef("wandb", name, alias, project=project, entity=entity)
    if len(parts) == 1:
        raise _fail(text, "a bare name needs its registry or project in front")
    if len(parts) == 2:
        raise _fail(text, f"unknown registry {parts[0]!r}")
    raise _fail(text, "too many '/' segments")


def format_ref(ref: CheckpointRef) -> str:
    """The canonical text of a reference; ``parse_ref(format_ref(r)) == r``."""
    if ref.backend == "local":
        return f"{LOCAL_PREFIX}/{ref.collection}:{ref.alias}"
    prefix = f"{ref.entity}/" if ref.entity else ""
    return f"{prefix}{ref.project}/{ref.collection}:{ref.alias}"
