"""What the Ray tests share: a real two-node Ray cluster on loopback (``ray.cluster_utils.Cluster``: a
head and one more raylet, every socket on 127.0.0.1), Ray's state API, plans on the local registry.

Each Ray test module starts its own cluster (module scope) in its own xdist group, so the two modules'
Ray runs proceed side by side on two workers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cli import Completed, invoke

FIXTURES = Path(__file__).parent / "fixtures"
SKILL = f"{FIXTURES / 'skill_tasks.py'}@skill"
SLOW = f"{FIXTURES / 'slow_tasks.py'}@slow"
AGENT = f"{FIXTURES / 'dict_score_tasks.py'}@agent"


@dataclass(frozen=True)
class RayTestCluster:
    address: str
    nodes: frozenset[str]
    session_dir: Path  # the nodes' logs


def two_node_cluster() -> Iterator[RayTestCluster]:
    """A module fixture's body: the cluster, up for the module, then shut down."""
    from ray.cluster_utils import Cluster

    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"  # conftest: every node on 127.0.0.1
    # As the README asks of a cluster's nodes: Ray's runtime env agent logs every task's env vars at info.
    saved = os.environ.get("RAY_LOGGER_LEVEL")
    os.environ["RAY_LOGGER_LEVEL"] = "warning"
    try:
        # Ports Ray would otherwise take at fixed numbers (8265, 10001, 52365): another module's cluster
        # may be up beside this one, on another xdist worker.
        dashboard, client, agent = free_ports(3)
        head = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 2,
                "dashboard_host": "127.0.0.1",
                "dashboard_port": dashboard,
                "ray_client_server_port": client,
                "dashboard_agent_listen_port": agent,
            },
        )
        head.add_node(num_cpus=2)
    finally:
        os.environ.pop("RAY_LOGGER_LEVEL") if saved is None else os.environ.update(RAY_LOGGER_LEVEL=saved)
    try:
        ids = frozenset(n["NodeID"] for n in head.global_state.node_table() if n["Alive"])
        assert len(ids) == 2 and head.address.startswith("127.0.0.1:")
        assert listening_off_loopback() == []
        yield RayTestCluster(head.address, ids, Path(head.head_node.get_session_dir_path()))
    finally:
        head.shutdown()


def free_ports(count: int) -> list[int]:
    import socket

    held = [socket.socket() for _ in range(count)]
    try:
        for sock in held:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def listening_off_loopback() -> list[str]:
    """TCP sockets a process this test started (the Ray nodes, their workers) listens on, other than loopback."""
    import ipaddress

    import psutil

    def loopback(ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
        return address.is_loopback or bool(mapped and mapped.is_loopback)

    ours = {child.pid for child in psutil.Process().children(recursive=True)}
    return [
        f"{c.pid} {c.laddr.ip}:{c.laddr.port}"
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in ours and not loopback(c.laddr.ip)
    ]


def running_unit_pids() -> list[int]:
    """Worker processes of ours running a unit now (Ray titles a busy worker after its task)."""
    import psutil

    return [p.pid for p in psutil.Process().children(recursive=True) if command_line(p).startswith("ray::run_unit")]


def command_line(process: Any) -> str:
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # it ended meanwhile
        return ""


def unit_tasks(address: str, **filters: str) -> list[Any]:
    """Our units as Ray's state API lists them (every job's, newest last)."""
    from ray.util.state import list_tasks

    wanted = [("name", "=", "run_unit"), *((key, "=", value) for key, value in filters.items())]
    deadline = time.monotonic() + 60
    while True:  # on a loaded machine the state API's own GCS reads can time out
        try:
            return list(
                list_tasks(address=address, filters=wanted, detail=True, limit=1000, raise_on_missing_output=False)
            )
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


V0, V1 = "local-registry/tiny:v0", "local-registry/tiny:v1"


def write_plan(
    root: Path,
    tasks: list[dict[str, Any]],
    executor: dict[str, Any],
    checkpoints: tuple[str, ...] = (V0, V1),
    **more: Any,
) -> Path:
    plan = {
        "checkpoints": list(checkpoints),
        "tasks": tasks,
        "model": {"name": "mockllm/{path}", "args": {}},
        "inspect": {"log_dir": str(root / "logs"), "display": "none"},
        "wandb": {"mode": "offline", "project": "evals"},
        "executor": executor,
        **more,
    }
    if not checkpoints:
        del plan["checkpoints"]  # a watcher's: the versions it finds
    path = root / "plan.yaml"
    path.write_text(json.dumps(plan))  # JSON is YAML
    return path


def run(plan: Path, *extra: str, env: dict[str, str] | None = None) -> Completed:
    return invoke("run", "--config", str(plan), "--json", *extra, env=env)


def metrics_by_job(stdout: str) -> dict[tuple[str, str], dict[str, float]]:
    return {(o["version"], o["task"]): o["metrics"] for o in json.loads(stdout)}


def offline_runs(wandb_dir: Path) -> list[str]:
    return sorted(p.name.rsplit("-", 1)[-1] for p in (wandb_dir / "wandb").glob("offline-run-*"))
