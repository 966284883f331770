"""Keep secrets out of logs, W&B configs and artifacts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|credential|auth)", re.IGNORECASE)
REDACTED = "***"


def is_secret_key(name: object) -> bool:
    return bool(_SECRET_KEY.search(str(name)))


def secret_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first secret-looking key in ``value``, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if is_secret_key(key) and item not in (None, ""):
                return here
            if found := secret_path(item, here):
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := secret_path(item, f"{path}[{index}]"):
                return found
    return None


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-looking keys replaced, and callables named."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if callable(value):
        return f"<callable {getattr(value, '__name__', type(value).__name__)}>"
    return value
