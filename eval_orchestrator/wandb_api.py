"""W&B plumbing every part shares: SDK settings, error mapping, a reachability probe, and the few
GraphQL queries we send outside the SDK (whose own calls wait and retry).

The registry, the tracker, ``sync`` and ``registry push`` all import this module; none of them
imports another to reach W&B.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from eval_orchestrator import env
from eval_orchestrator.errors import RegistryError, Unavailable, UserError
from eval_orchestrator.job import GitInfo

if TYPE_CHECKING:
    import requests
    import wandb


def check_reachable(url: str) -> None:
    """Fail in a second, with the reason, instead of after the SDK's retries."""
    if env.first(("HTTPS_PROXY", "https_proxy")):
        return  # the proxy decides what is reachable
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UserError(f"WANDB_BASE_URL {url!r} is not an http(s):// URL; fix it or unset it")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=10).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise Unavailable(
            f"cannot reach W&B at {url} ({reason}); check WANDB_BASE_URL and the network, "
            "or use a local-registry/ reference"
        ) from None


@contextlib.contextmanager
def wandb_errors(where: str) -> Iterator[None]:
    """Map the SDK's exceptions onto our taxonomy: a rejected key or setting is the user's to fix
    (exit 2); a host that does not answer is a retry-later (exit 75)."""
    import wandb

    try:
        yield
    except wandb.errors.AuthenticationError as exc:
        text = str(exc)
        if "Failed to execute API request" in text or "did not respond" in text:
            raise Unavailable(f"W&B at {where} did not answer; check WANDB_BASE_URL and the network") from None
        raise RegistryError(
            f"W&B at {where} rejected the API key; check WANDB_API_KEY or run `wandb login --relogin`"
        ) from None
    except wandb.errors.UsageError as exc:
        if "authentication" in str(exc).lower() or "api key" in str(exc).lower():
            raise RegistryError("no W&B API key: set WANDB_API_KEY or run `wandb login`") from None
        raise RegistryError(f"W&B: {exc}") from None
    except wandb.errors.CommError as exc:
        raise Unavailable(f"W&B request to {where} failed: {first_line(exc)}") from None


def not_found(exc: BaseException) -> bool:
    """Whether an SDK error is W&B's answer that what was asked for does not exist. The SDK raises a
    ValueError where W&B's answer holds no project or no artifact membership, and its public API
    wraps it in a CommError; a transport or GraphQL failure is another type inside (no text matched)."""
    import wandb

    return isinstance(exc, wandb.errors.CommError) and isinstance(exc.exc, ValueError)


def open_api() -> wandb.Api:
    """An SDK API session: an unreachable WANDB_BASE_URL fails in a second (75), a bad key in one line (2)."""
    import wandb

    url = env.get("WANDB_BASE_URL")
    if url:
        check_reachable(url)
    with wandb_errors(url or "W&B"):
        return wandb.Api()


def sdk_settings(**fields: Any) -> wandb.Settings:
    """Quiet wandb.Settings for our own runs, with WANDB_BASE_URL read now: wandb fixes its
    process-wide settings at first use, so a later change of the variable would be ignored."""
    import wandb

    env.set_default("WANDB_DISABLE_WEAVE", "true")  # our own runs (compare, sync) trace nothing
    settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, **fields)
    if url := env.get("WANDB_BASE_URL"):
        settings.base_url = url
    return settings


def git_info() -> GitInfo:
    """The working directory's git commit and remote URL as wandb.init reads them (its own reader: the
    password stripped from the URL), to hand to each run's settings instead."""
    from wandb.sdk.lib.gitlib import GitRepo  # wandb's reader, so the values are what a run would find

    repo = GitRepo(lazy=False)
    return GitInfo(root=repo.root_dir, commit=repo.last_commit, remote_url=repo.remote_url)


def git_settings(info: GitInfo | None) -> dict[str, Any]:
    """wandb.Settings fields that give a run its git info so it runs no git (None: it asks git itself).
    An empty remote URL stops wandb looking for one; a missing commit stays missing."""
    if info is None:
        return {}
    if info.root is None:
        return {"disable_git": True}  # not in a repository: nothing to find
    return {"git_root": info.root, "git_commit": info.commit, "git_remote_url": info.remote_url or ""}


def first_line(exc: BaseException) -> str:
    """The first line of an SDK error's text (they run to many lines), or its type when empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def base_url() -> str:
    return env.get("WANDB_BASE_URL") or "https://api.wandb.ai"


def _graphql(query: str, variables: dict[str, Any], timeout: float) -> Any:
    """One GraphQL request to WANDB_BASE_URL with WANDB_API_KEY, outside the SDK (whose calls wait
    and retry): the requests.Response."""
    import requests

    return requests.post(
        f"{base_url().rstrip('/')}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", env.get("WANDB_API_KEY") or ""),
        timeout=timeout,
    )


def outage(timeout: float = 5.0) -> str | None:
    """Why W&B (WANDB_BASE_URL) cannot take data now (refused, timed out, 5xx), or None when it answers.

    One small GraphQL query: an outage is found before wandb.init reserves the run id, and before
    SDK calls that would wait on W&B.
    """
    return unreachable(base_url(), lambda: _graphql("query Viewer { viewer { id } }", {}, timeout))


def unreachable(url: str, ask: Callable[[], requests.Response]) -> str | None:
    """Why the server at ``url`` cannot take data now (refused, timed out, 5xx), going by its answer
    to ``ask``; None when it answers (a 4xx is an answer: the caller's own errors say more)."""
    import requests

    try:
        response = ask()
    except requests.RequestException as exc:
        return f"{type(exc).__name__} connecting to {url}"
    if response.status_code >= 500:
        return f"{url} answered {response.status_code}"
    return None


HISTORY_ROWS_QUERY = """query RunHistoryLineCount($entity: String, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { historyLineCount } }
}"""


def history_rows(entity: str | None, project: str, run_name: str, timeout: float = 10.0) -> int | None:
    """How many history rows W&B holds for a run, or None when it cannot say (no run, no answer)."""
    import requests

    variables = {"entity": entity, "project": project, "name": run_name}
    try:
        response = _graphql(HISTORY_ROWS_QUERY, variables, timeout)
        run = ((response.json().get("data") or {}).get("project") or {}).get("run") or {}
    except (requests.RequestException, ValueError):
        return None
    count = run.get("historyLineCount")
    return count if isinstance(count, int) else None


def history_short_of(entity: str | None, project: str, run_name: str, expected: int, tries: int = 3) -> int | None:
    """W&B's count of a run's history rows when it is below `expected`, or None when it holds them
    all or cannot say. A short count is asked again a second later: W&B may still be taking the
    last rows in."""
    held = None
    for attempt in range(tries):
        held = history_rows(entity, project, run_name)
        if held is None or held >= expected:
            return None
        if attempt < tries - 1:
            time.sleep(1.0)
    return held
