"""Values shaped like a well-known credential, found with detect-secrets' own detectors (cloud keys,
vendor API tokens, JWTs, private keys), plus the few formats this field meets that it lacks
(Hugging Face and Anthropic tokens, OpenAI project keys, bearer tokens).

Its entropy and keyword detectors are left out: they flag digests and paths, which a run config is
full of. A match refuses the value where it enters (task and model args, roles, config, registry
metadata and descriptions), naming where it was, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector", "DiscordBotTokenDetector",
    "GitHubTokenDetector", "GitLabTokenDetector", "JwtTokenDetector", "MailchimpDetector", "NpmDetector",
    "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip

# Formats detect-secrets 1.5 has no detector for (each a vendor's documented prefix).
EXTRA = {
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    "Anthropic API key": re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    "OpenAI API key": re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"),
}


@cache
def _detectors() -> list[Any]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    return [cls() for cls in classes if cls.__name__ in PLUGINS]


def credential_kind(value: str) -> str | None:
    """The kind of credential ``value`` holds (e.g. "AWS Access Key"), or None."""
    if len(value) < 16:
        return None  # no credential format is that short; saves the scan for the common case
    for name, pattern in EXTRA.items():
        if pattern.search(value):
            return name
    for detector in _detectors():
        if next(iter(detector.analyze_string(value)), None):
            return str(detector.secret_type)
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def credential_path(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, kind) of the first credential-shaped string in ``value``, or None."""
    for where, text in _strings(value, path):
        if kind := credential_kind(text):
            return where, kind
    return None
