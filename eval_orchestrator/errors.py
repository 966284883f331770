"""One error taxonomy, one exit code per class: what a scheduler needs to decide what to do next.

| exit | class                | meaning                                         | what to do        |
|------|----------------------|-------------------------------------------------|-------------------|
| 0    | -                    | success                                         |                   |
| 1    | ``EvalFailed``       | an eval, a job or a tracking step failed        | look at the eval  |
| 2    | ``UserError``        | bad input or configuration                      | fix it, run again |
| 3    | ``GateFailed``       | a quality gate held a version (compare, watch)  | a decision, not a fault |
| 65   | ``VerificationFailed``| bytes are not the registered ones              | repair the source |
| 75   | ``Unavailable``      | a dependency is unreachable or retries ran out  | retry later       |
| 130  | -                    | interrupted (Ctrl-C, a Determined preemption)   |                   |
| 143  | -                    | terminated (SIGTERM)                            |                   |

The CLI prints any of them as one line on stderr and exits with its code, never a traceback.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class OrchestratorError(Exception):
    """Base of every error the CLI turns into one line and an exit code."""

    exit_code: ClassVar[int] = 1


class UserError(OrchestratorError):
    """Bad input or environment: one line saying what is wrong and how to fix it."""

    exit_code = 2


class ConfigError(UserError):
    """The run config (file, env, flags) is invalid."""


class RefError(UserError):
    """A checkpoint reference does not parse."""


class RegistryError(UserError):
    """A collection, version or alias does not exist, or the registry is unusable."""


class StoreError(UserError):
    """A checkpoint could not be materialised (a file missing, a source that cannot serve it)."""


class SpoolError(UserError):
    """A record in the W&B spool cannot be read (written by another version, or damaged)."""


class EvalFailed(OrchestratorError):
    """Some jobs, or a tracking or upload step, did not succeed."""

    exit_code = 1


class GateFailed(OrchestratorError):
    """A quality gate held a version: not a fault, a decision (compare --fail-on-regression, watch)."""

    exit_code = 3


class VerificationFailed(OrchestratorError):
    """A source's bytes are not the registered ones (corrupted, truncated, overwritten, gone): nothing is kept."""

    exit_code = 65  # EX_DATAERR


class Unavailable(OrchestratorError):
    """A dependency (W&B, S3, the Hub) did not answer, or its retries ran out: try again later."""

    exit_code = 75  # EX_TEMPFAIL
