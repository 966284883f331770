"""Keep secrets out of logs, W&B configs and artifacts.

A key looks secret when one of its words (split at '_', '-', '.', spaces and camelCase) is a secret
word, or two of them name a key (``api_key``, ``accessKey``); words, not substrings, so
``max_tokens``, ``tokenizer`` and ``author`` are not secrets and ``hf_token``, ``OPENAI_API_KEY``,
``db-password`` and ``awsSecretAccessKey`` are.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "pwd", "credential", "credentials", "apikey", "auth", "bearer", "cookie"}
)
KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "encryption", "client", "license"})
REDACTED = "***"
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def key_words(name: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(name)]


def is_secret_key(name: object) -> bool:
    words = key_words(str(name))
    if SECRET_WORDS.intersection(words):
        return True
    return any(a in KEY_QUALIFIERS and b == "key" for a, b in itertools.pairwise(words))


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
