"""Declared secrets' values kept out of everything we write or upload.

A run declares its secrets by name (``secrets:``); the values reach evals through the environment
only. A task can still echo one (a tool call that prints it, an error message holding it), and then
Inspect records it. Every string we write into W&B (config, summary, history, tables), our files
(summary.json, spooled rows), the copy of the Inspect log we upload, and JSON on stdout passes
through ``Scrubber``: each value becomes ``***NAME***``. Inspect's own log on disk is Inspect's; its
uploaded copy is scrubbed, and a warning names the secret (never its value) and the log.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval_orchestrator import env

MIN_LENGTH = 6  # a shorter value would also match ordinary text; such a secret is refused at declaration


@dataclass(frozen=True)
class Scrubber:
    replacements: tuple[tuple[str, str], ...] = ()  # (value as it may appear, its replacement), longest first

    @classmethod
    def of(cls, names: Iterable[str]) -> Scrubber:
        """The scrubber for the secrets declared by ``names``, with their values from the environment."""
        pairs: dict[str, str] = {}
        for name in names:
            value = env.declared_secret(name)
            if value is None or len(value) < MIN_LENGTH:
                continue
            # As written, and as JSON writes it (quotes, backslashes and non-ASCII escaped).
            for form in {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}:
                pairs[form] = f"***{name}***"
        return cls(tuple(sorted(pairs.items(), key=lambda pair: -len(pair[0]))))

    def __bool__(self) -> bool:
        return bool(self.replacements)

    def text(self, value: str) -> str:
        for secret, replacement in self.replacements:
            value = value.replace(secret, replacement)
        return value

    def tree(self, value: Any) -> Any:
        """``value`` with every string in it scrubbed (mappings, lists; keys too)."""
        if not self.replacements:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.tree(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return value

    def found(self, data: bytes) -> list[str]:
        """The names whose values ``data`` holds."""
        return sorted({name for secret, name in self.replacements if secret.encode() in data})

    def _bytes(self, data: bytes) -> bytes:
        for secret, replacement in self.replacements:
            data = data.replace(secret.encode(), replacement.encode())
        return data

    def file(self, source: Path, target: Path) -> list[str]:
        """Write a scrubbed copy of ``source`` to ``target``; the names found in it."""
        data = source.read_bytes()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self._bytes(data))
        return [name.strip("*") for name in self.found(data)]

    def eval_log(self, source: Path, target: Path) -> list[str]:
        """A scrubbed copy of an Inspect ``.eval`` log (a zip of JSON members); the names found in it."""
        found: set[str] = set()
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(source) as inside, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for item in inside.infolist():
                data = inside.read(item)
                found.update(name.strip("*") for name in self.found(data))
                out.writestr(item, self._bytes(data))
        return sorted(found)
