"""The Ray cluster a run fans out on: the one ``executor.address`` (or RAY_ADDRESS) names, or a local Ray
instance started for the run on 127.0.0.1 and stopped after it.

A cluster that does not answer is exit 75 in a second (a TCP probe first: Ray's own connect waits a
minute), before any checkpoint is fetched. Ray binds this machine's network address unless told
otherwise; the local instance is kept on loopback, its dashboard off unless asked for (a dashboard a
network can reach runs anyone's code).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from eval_orchestrator import env
from eval_orchestrator.errors import ConfigError, Unavailable, UserError
from eval_orchestrator.executor_config import ExecutorConfig
from eval_orchestrator.notify import Notify

LOOPBACK = "127.0.0.1"
RAY_INSTALL = "pip install 'eval-orchestrator[ray]'"


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[str, ...]  # alive node ids (hex)
    embedded: bool  # started for this run
    started_s: float  # how long connecting (or starting) took


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"executor: ray needs the ray package: {RAY_INSTALL}") from None
    return ray


def _fresh(ray: Any) -> Any:
    if ray.is_initialized():
        ray.shutdown()  # a connection left by an earlier run in this process
    return ray


def probe(address: str) -> None:
    """A TCP connect to the cluster's head: refused or silent is 75 now, not after Ray's minute of retries."""
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    if not parsed.hostname or not parsed.port:
        if address == "auto":
            return  # Ray finds a cluster started on this machine itself
        raise UserError(
            f"Ray address {address!r} is not HOST:PORT or ray://HOST:PORT; fix --ray-address or RAY_ADDRESS"
        )
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=5).close()
    except OSError as exc:
        raise Unavailable(
            f"the Ray cluster at {address} does not answer ({exc.strerror or type(exc).__name__}); start it, or fix "
            "--ray-address / RAY_ADDRESS (unset, a local Ray instance is started for the run)"
        ) from None


@contextlib.contextmanager
def connected(settings: ExecutorConfig, notify: Notify) -> Iterator[Cluster]:
    """Connect to the cluster (or start the local one) for the ``with`` block, then leave it (stop it)."""
    started = time.monotonic()
    with _our_sigterm_kept():
        ray = _init(settings, notify)
    try:
        nodes = tuple(node["NodeID"] for node in ray.nodes() if node.get("Alive"))
        yield Cluster(nodes, embedded=not settings.address, started_s=time.monotonic() - started)
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _our_sigterm_kept() -> Iterator[None]:
    """ray.init replaces the driver's SIGTERM handler with one that exits at once: ours (unwind, cancel
    the units, exit 143) is put back."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


# Set once this process has run a local instance: Ray (2.60) cannot then create actors on another
# cluster from the same process (they die "cancelled before it started running"); tasks still run.
_local_instance_used = False


def _init(settings: ExecutorConfig, notify: Notify) -> Any:
    global _local_instance_used
    if settings.address:
        probe(settings.address)
        if _local_instance_used:
            raise UserError(
                f"this process already ran a local Ray instance, and Ray cannot then join the cluster at "
                f"{settings.address} from it: run the cluster job in a new process"
            )
        ray = _fresh(require_ray())
        try:
            ray.init(address=settings.address, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, TimeoutError, RuntimeError) as exc:
            raise Unavailable(f"cannot join the Ray cluster at {settings.address}: {str(exc)[:200]}") from None
    else:
        notify("Ray: starting a local instance on 127.0.0.1 for this run (set --ray-address to use a cluster)")
        # Ray's nodes would otherwise bind (and dial) this machine's network address instead of loopback:
        # read by Ray at import, and by the raylet and workers it starts.
        # Ray's runtime env agent logs each task's runtime env (declared secrets included) at info.
        quiet = env.get("RAY_LOGGER_LEVEL") or "warning"
        with env.scoped({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_LOGGER_LEVEL": quiet}):
            ray = _fresh(require_ray())
            context = ray.init(
                address="local",  # a new instance, even if a cluster started here is listed in /tmp/ray
                _node_ip_address=LOOPBACK,
                include_dashboard=settings.dashboard,
                dashboard_host=LOOPBACK,
                log_to_driver=False,
                logging_level="ERROR",
            )
        _local_instance_used = True
        notify(f"Ray: local instance up; its logs are in {context.address_info['session_dir']}/logs")
    return ray
