"""A stand-in for a Determined master on loopback: the REST endpoints the pinned ``determined`` SDK
calls to log in, create an experiment and follow it, and a one-agent "cluster" that runs the trials.

Like the W&B test server it is strict: an endpoint it does not know is answered 404 with a message
naming it, so an SDK upgrade that changes the protocol fails loudly. A created experiment's grid
(categorical x const hyperparameters, the only kinds our export emits) is expanded and each trial
runs as its entrypoint would off-cluster (``eval-orchestrator determined run --experiment-config``)
in a folder holding the uploaded context, one after another; the experiment is COMPLETED when every
trial exits 0, ERROR otherwise. Faults are switches on the state (a refused login, a trial that fails).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from tests.servers.base import LoopbackServer, send_json

USER, PASSWORD = "determined", ""  # Determined's default admin
EXPERIMENT = re.compile(r"^/api/v1/experiments/(\d+)$")


@dataclass
class Trial:
    hparams: dict[str, Any]
    returncode: int | None = None
    stderr: str = ""


@dataclass
class Experiment:
    id: int
    config: dict[str, Any]
    config_text: str
    context: dict[str, bytes]
    state: str = "STATE_ACTIVE"
    trials: list[Trial] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "archived": False,
            "config": self.config,
            "id": self.id,
            "jobId": f"job-{self.id}",
            "name": self.config.get("name", f"experiment-{self.id}"),
            "numTrials": len(self.trials),
            "originalConfig": self.config_text,
            "projectId": 1,
            "projectOwnerId": 1,
            "searcherType": self.config.get("searcher", {}).get("name", "single"),
            "startTime": "2026-01-01T00:00:00Z",
            "state": self.state,
            "username": USER,
        }


@dataclass
class MasterState:
    workdir: Path
    experiments: dict[int, Experiment] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # "METHOD path", in order
    tokens: set[str] = field(default_factory=set)
    refuse_login: bool = False
    fail_trials: bool = False  # every trial exits non-zero (an image without the package, say)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def grid(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        import itertools

        names, choices = [], []
        for name, spec in config.get("hyperparameters", {}).items():
            names.append(name)
            choices.append(spec["vals"] if spec.get("type") == "categorical" else [spec.get("val")])
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]

    def run(self, experiment: Experiment) -> None:
        """The agent: each trial in its own folder with the context, as the trial entrypoint runs."""
        for index, trial in enumerate(experiment.trials):
            folder = self.workdir / f"exp-{experiment.id}" / f"trial-{index}"
            folder.mkdir(parents=True)
            for path, data in experiment.context.items():
                target = (folder / path).resolve()
                assert target.is_relative_to(folder.resolve()), path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            (folder / "experiment.yaml").write_text(yaml.safe_dump({"hyperparameters": trial.hparams}))
            command = [sys.executable, "-m", "eval_orchestrator.cli", "determined", "run"]
            if self.fail_trials:
                command = [sys.executable, "-c", "raise SystemExit(1)"]
            done = subprocess.run(
                [*command, "--experiment-config", "experiment.yaml"], cwd=folder, capture_output=True, text=True
            )
            trial.returncode, trial.stderr = done.returncode, done.stderr
        ok = all(t.returncode == 0 for t in experiment.trials)
        experiment.state = "STATE_COMPLETED" if ok else "STATE_ERROR"


def _context(files: list[dict[str, Any]]) -> dict[str, bytes]:
    return {f["path"]: base64.b64decode(f["content"]) for f in files if f["type"] != ord(tarfile.DIRTYPE) and f["path"]}


class Handler(BaseHTTPRequestHandler):
    state: MasterState

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        send_json(self, status, body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"code": status, "message": message, "error": {"error": message}})

    def _authorized(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.state.tokens:
            self._error(401, "invalid credentials")
            return False
        return True

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")  # type: ignore[no-any-return]

    def do_GET(self) -> None:
        self.state.requests.append(f"GET {self.path}")
        if self.path == "/api/v1/me" and self._authorized():
            self._send(200, {"user": {"username": USER, "admin": True, "active": True}})
        elif match := EXPERIMENT.match(self.path):
            if not self._authorized():
                return
            experiment = self.state.experiments.get(int(match[1]))
            if experiment is None:
                self._error(404, f"experiment {match[1]} not found")
            else:
                self._send(200, {"experiment": experiment.as_json()})
        elif self.path != "/api/v1/me":
            self._error(404, f"stand-in master: unknown endpoint GET {self.path}")

    def do_POST(self) -> None:
        self.state.requests.append(f"POST {self.path}")
        if self.path == "/api/v1/auth/login":
            body = self._body()
            if self.state.refuse_login or (body.get("username"), body.get("isHashed")) != (USER, True):
                self._error(403, "invalid credentials")
                return
            token = f"token-{len(self.state.tokens)}"
            self.state.tokens.add(token)
            self._send(200, {"token": token, "user": {"username": USER, "admin": True, "active": True}})
        elif self.path == "/api/v1/experiments":
            if not self._authorized():
                return
            body = self._body()
            config = yaml.safe_load(body["config"])
            with self.state.lock:
                experiment = Experiment(
                    len(self.state.experiments) + 1, config, body["config"], _context(body.get("modelDefinition") or [])
                )
                experiment.trials = [Trial(point) for point in self.state.grid(config)]
                self.state.experiments[experiment.id] = experiment
            threading.Thread(target=self.state.run, args=(experiment,), daemon=True).start()
            self._send(200, {"experiment": experiment.as_json(), "config": config})
        else:
            self._error(404, f"stand-in master: unknown endpoint POST {self.path}")


@contextlib.contextmanager
def serve(workdir: Path) -> Iterator[tuple[str, MasterState]]:
    state = MasterState(workdir)
    handler = type("BoundHandler", (Handler,), {"state": state})
    with LoopbackServer(handler) as server:
        yield server.url, state
