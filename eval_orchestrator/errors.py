"""Errors a user can act on. The CLI prints them as one line and exits with their code."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment: one line saying what is wrong and how to fix it."""

    exit_code = 2


class ConfigError(UserError):
    """The run config (file, env, flags) is invalid."""


class RefError(UserError):
    """A checkpoint reference does not parse."""


class RegistryError(UserError):
    """A collection, version or alias does not exist, or the registry is unusable."""


class StoreError(UserError):
    """A checkpoint could not be materialised exactly (missing or corrupted bytes)."""


class EvalFailed(Exception):
    """Some jobs did not succeed. Not a usage error: exit code 1."""

    exit_code = 1


class VerificationFailed(StoreError):
    """A source's bytes are not the registered ones (corrupted, truncated, overwritten, gone): nothing is kept."""
