"""One error taxonomy, one exit code per class: what a scheduler needs to decide what to do next.

| exit | class                | meaning                                         | what to do        |
|------|----------------------|-------------------------------------------------|-------------------|
| 0    | -                    | success                                         |                   |
| 1    | ``EvalFailed``       | an eval, a job or a tracking step failed        | look at the eval  |
| 2    | ``UserError``        | bad input or configuration                      | fix it, run again |
| 3    | ``GateFailed``       | a quality gate held a version (compare, watch)  | a decision, not a fault |
| 65   | ``VerificationFailed``| bytes are not the registered ones              | repair the source |
| 70   | -                    | a bug of ours (an unexpected exception)         | report it         |
| 75   | ``Unavailable``      | a dependency is unreachable or retries ran out  | retry later       |
|      | ``DiskFull``         | no space left (the partial files are removed)   | free space, retry |
| 130  | -                    | interrupted (Ctrl-C, a Determined preemption)   |                   |
| 143  | -                    | terminated (SIGTERM)                            |                   |

The CLI prints any of them as one line on stderr and exits with its code, never a traceback.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import ClassVar

EXIT_BUG = 70  # EX_SOFTWARE: an exception none of our checks expected
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class OrchestratorError(Exception):
    """Base of every error the CLI turns into one line and an exit code."""

    exit_code: ClassVar[int] = 1
    label: ClassVar[str] = "error"  # how the CLI's one line starts


class UserError(OrchestratorError):
    """Bad input or environment: one line saying what is wrong and how to fix it."""

    exit_code = 2


class ConfigError(UserError):
    """The run config (file, env, flags) is invalid."""


class RefError(UserError):
    """A checkpoint reference does not parse."""


class RegistryError(UserError):
    """A collection, version or alias does not exist, or the registry is unusable."""


class NotFound(RegistryError):
    """The registry answered that a collection, version, alias or artifact does not exist (raised
    where the registry's answer is first seen; nobody matches error text to find this out)."""


class CollectionNotFound(NotFound):
    """No such collection (or project) in the registry."""


class VersionNotFound(NotFound):
    """The collection exists, but no version or alias of that name."""


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
    label = "decision"


class HeldVersion(GateFailed):
    """An alias move onto a version whose last gate held it, refused (exit 3, as the hold it enforces)."""

    label = "refused"


class VerificationFailed(OrchestratorError):
    """A source's bytes are not the registered ones (corrupted, truncated, overwritten, gone): nothing is kept."""

    exit_code = 65  # EX_DATAERR


class Unavailable(OrchestratorError):
    """A dependency (W&B, S3, the Hub) did not answer, or its retries ran out: try again later."""

    exit_code = 75  # EX_TEMPFAIL


class DiskFull(Unavailable):
    """No space (or quota) left while writing: what was being written is removed; free space and retry."""


def disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or quota."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


# How an ENOSPC reads once Inspect has recorded it in a log's error (its only form there: text).
_ENOSPC_TEXT = re.compile(r"OSError\(28,|\[Errno 28\]|No space left on device")


def disk_full_text(message: str | None) -> bool:
    """Whether an error Inspect recorded as text was a full disk (ENOSPC)."""
    return bool(message and _ENOSPC_TEXT.search(message))


def from_os_error(exc: OSError, doing: str) -> OrchestratorError:
    """One line for a file-system error: what we were doing, the path, and the fix."""
    where = exc.filename if exc.filename is not None else "?"
    if isinstance(where, bytes | Path):
        where = str(where)
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(f"{doing}: no space left on the device holding {where}; free space (e.g. "
                        "`eval-orchestrator cache prune`) and run again")  # fmt: skip
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"{doing}: {where} is not writable ({exc.strerror}); point it at a folder you can write")
    if code == errno.ENAMETOOLONG:
        return UserError(f"{doing}: a name is too long for the file system ({str(where)[:60]}...); use a shorter one")
    if code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return UserError(f"{doing}: {where} is not what was expected ({exc.strerror}); a file where a folder "
                         "should be, or the reverse: point at another path")  # fmt: skip
    if code == errno.ELOOP:
        return UserError(f"{doing}: {where} is a symbolic link loop; remove the link")
    return UserError(f"{doing}: {exc.strerror or exc} ({where})")
