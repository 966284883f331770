"""The webhook receiver against a hostile network, on a real uvicorn server on loopback: deep JSON,
events that are not a new version, slow and vanishing clients, a bad or busy --listen, /status behind
the token, and /healthz answering under a burst and hundreds of slow clients."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from eval_orchestrator.errors import Unavailable, UserError
from eval_orchestrator.refs import CheckpointRef
from eval_orchestrator.watch.webhook import EVENTS, WebhookServer, bind, make_app

TOKEN = "s3cret-token"
GOOD = {"Authorization": f"Bearer {TOKEN}"}


class Queue:
    def __init__(self) -> None:
        self.refs: list[CheckpointRef] = []

    def enqueue(self, ref: CheckpointRef) -> Any:
        from eval_orchestrator.watch.ledger import Entry

        self.refs.append(ref)
        fields = {"registry": "local", "source": ref.collection_ref, "digest": "d", "plan": "p", "version": "v1",
                  "number": 1, "ref": ref, "role": "candidate", "state": "discovered", "attempts": 0,
                  "next_attempt_at": 0, "claimed_by": None, "lease_until": 0, "decision": None, "error": None,
                  "created_at": 0, "updated_at": 0}  # fmt: skip
        return Entry.model_validate(fields)


@pytest.fixture
def served() -> Iterator[tuple[str, Queue]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = Queue()
    app = make_app(TOKEN, queue.enqueue, lambda: [], threading.Event())
    with WebhookServer(app, bind(f"127.0.0.1:{port}")):
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield url, queue


def _post(url: str, body: bytes) -> requests.Response:
    return requests.post(f"{url}/webhook", data=body, headers={**GOOD, "Content-Type": "application/json"}, timeout=10)


def test_deep_json_is_a_400_not_a_crash(served: tuple[str, Queue], capfd: pytest.CaptureFixture[str]) -> None:
    url, queue = served
    for depth in (40, 5_000, 30_000):  # 30,000 levels: 60 KB, under the size limit
        assert _post(url, b"[" * depth + b"]" * depth).status_code == 400
    assert "Traceback" not in capfd.readouterr().err and not queue.refs


def test_only_new_or_re_aliased_versions_are_queued(served: tuple[str, Queue]) -> None:
    url, queue = served
    deleted = {"event_type": "ARTIFACT_DELETED", "artifact_version_string": "local-registry/tiny:v1"}
    refused = _post(url, json.dumps(deleted).encode())
    assert refused.status_code == 422 and refused.json()["accepted"] == list(EVENTS) and not queue.refs
    for event in EVENTS:
        assert _post(url, json.dumps({**deleted, "event_type": event}).encode()).status_code == 202
    assert [str(ref) for ref in queue.refs] == ["local-registry/tiny:v1"] * len(EVENTS)


def test_status_answers_only_the_token(served: tuple[str, Queue]) -> None:
    url, _ = served
    assert requests.get(f"{url}/status", timeout=5).status_code == 401
    assert requests.get(f"{url}/status", headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
    assert requests.get(f"{url}/status", headers=GOOD, timeout=5).json() == {"entries": []}
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"ok": True}  # anyone may ask if it is up


def _half_sent(url: str, declared: int = 200) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (f"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{\"event")  # fmt: skip
    sock.sendall(head.encode())
    return sock


def test_a_body_that_stops_arriving_is_a_408(served: tuple[str, Queue]) -> None:
    url, _ = served
    sock = _half_sent(url)
    started = time.monotonic()
    sock.settimeout(15)
    answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    assert time.monotonic() - started < 6
    sock.close()


def test_a_client_that_vanishes_mid_body_is_dropped_quietly(
    served: tuple[str, Queue], capfd: pytest.CaptureFixture[str]
) -> None:
    url, queue = served
    for _ in range(20):
        _half_sent(url).close()
    assert requests.get(f"{url}/healthz", timeout=2).json() == {"ok": True}
    time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err and not queue.refs


def test_healthz_answers_within_a_second_under_a_burst_and_slow_clients(served: tuple[str, Queue]) -> None:
    url, _ = served
    slow = [_half_sent(url) for _ in range(150)]  # the benchmark uses 300 and a burst of 1,000
    errors: list[str] = []

    def burst() -> None:
        session = requests.Session()
        for _ in range(50):
            try:
                session.post(f"{url}/webhook", data=b"{}", headers=GOOD, timeout=10)
            except requests.RequestException as exc:
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=burst) for _ in range(6)]
    for thread in threads:
        thread.start()
    waits = []
    for _ in range(5):
        started = time.monotonic()
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        waits.append(time.monotonic() - started)
    for thread in threads:
        thread.join()
    for sock in slow:
        sock.close()
    assert max(waits) < 1.0, waits
    assert not errors, errors[:5]


def test_listen_is_checked_and_bound_before_anything_else() -> None:
    for bad in ("nohost", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:http", ":8080"):
        with pytest.raises(UserError, match="--listen"):
            bind(bad)
    with pytest.raises(UserError, match=r"not an address of this machine|cannot listen there"):
        bind("no-such-host.invalid:8080")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(Unavailable, match="in use"):
            bind(f"127.0.0.1:{port}")


def test_the_watcher_refuses_a_bad_or_busy_listen_with_its_exit_code(isolated_env: Path) -> None:
    from tests.test_cli import assert_one_line_error
    from tests.test_watch import register, write_plan

    register(isolated_env, 10, "prod")
    plan = write_plan(isolated_env)
    from tests.cli import invoke

    env = {"EVAL_ORCHESTRATOR_WEBHOOK_TOKEN": TOKEN}
    bad = invoke("watch", "--config", str(plan), "--listen", "127.0.0.1:notaport", env=env)
    assert_one_line_error(bad, "--listen", code=2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = invoke("watch", "--config", str(plan), "--listen", f"127.0.0.1:{taken.getsockname()[1]}", env=env)
    assert_one_line_error(busy, "the port is in use", code=75)
    assert not (isolated_env / "ledger.sqlite").exists()  # refused before the watcher started
