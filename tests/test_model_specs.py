"""Model spec templates beyond hf/, end to end through the real CLI: a user's own provider registered
through an entry point, and `openai-api/...` against a loopback OpenAI-compatible server with
`-M base_url=...` (passed to Inspect as its model_base_url) and the key declared as a secret."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from inspect_ai.log import read_eval_log

from tests.cli import Completed, invoke, spawn
from tests.test_cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
TASK = f"{FIXTURES / 'generate_task.py'}@ask"


def run(*args: str, env: dict[str, str] | None = None) -> Completed:
    """`run` in this process; with a PYTHONPATH in ``env`` (a provider's entry point to discover), as its
    own process: Inspect reads the installed entry points once per process."""
    full = ("run", "--checkpoint", "local-registry/tiny", "--task", TASK, "--display", "none", "--json", *args)
    return spawn(*full, env=env) if env and "PYTHONPATH" in env else invoke(*full, env=env)


@pytest.fixture
def tiny(isolated_env: Path) -> Path:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "weights.bin").write_bytes(b"w")
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    return isolated_env


def test_a_provider_registered_through_an_entry_point(tiny: Path) -> None:
    env = {"PYTHONPATH": str(FIXTURES / "entry_point_provider")}  # the "installed" package with its dist-info
    done = run("--model", "echoprov/{collection}-{version}", "-M", "checkpoint={path}", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0
    header = read_eval_log(outcome["log"], header_only=True)
    assert header.eval.model == "echoprov/tiny-v0"
    path = header.eval.model_args["checkpoint"]
    assert isinstance(path, str) and Path(path).is_dir()  # {path} filled, and a string
    unknown = run("--model", "echoprov/{collection}")  # without the package: refused before any work
    assert unknown.returncode == 2 and "unknown model provider 'echoprov'" in unknown.stderr


class ChatCompletions(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.path != "/v1/chat/completions":
            self.send_error(404, f"stand-in: no {self.path}")
            return
        reply = {
            "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "yes"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }  # fmt: skip
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def openai_server() -> Iterator[str]:
    pytest.importorskip("openai")
    ChatCompletions.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatCompletions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_api_against_a_local_server(tiny: Path, openai_server: str) -> None:
    env = {"LOCAL_API_KEY": "local-key-123"}
    done = run("--model", "openai-api/local/{collection}", "-M", f"base_url={openai_server}",
               "--secret", "LOCAL_API_KEY", "--max-tokens", "5", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0
    requests = [r for r in ChatCompletions.seen if r["path"] == "/v1/chat/completions"]
    assert len(requests) == 3 and requests[0]["body"]["model"] == "tiny"
    assert requests[0]["auth"] == "Bearer local-key-123" and requests[0]["body"]["max_tokens"] == 5
    header = read_eval_log(outcome["log"], header_only=True)
    assert header.eval.model_base_url == openai_server and "base_url" not in (header.eval.model_args or {})
    assert "Weave" not in done.stderr  # wandb.weave off: wandb does not init or suggest Weave beside our runs


def test_the_weave_switch() -> None:
    from eval_orchestrator.config import build_config
    from eval_orchestrator.ecosystem import hooks_environment
    from eval_orchestrator.job import TrackingSettings

    base = {"checkpoints": ["local-registry/x"], "tasks": ["t.py"]}
    assert TrackingSettings.from_config(build_config(None, {**base, "wandb": {"weave": True}})).weave
    assert not TrackingSettings.from_config(build_config(None, base)).weave
    off, on = hooks_environment(False, "evals", "team"), hooks_environment(True, "evals", "team")
    assert off == {"INSPECT_WANDB_MODELS_ENABLED": "false", "INSPECT_WANDB_WEAVE_ENABLED": "false",
                   "WANDB_DISABLE_WEAVE": "true"}  # fmt: skip
    assert on["INSPECT_WANDB_MODELS_ENABLED"] == "false"  # inspect-wandb's second W&B run: never
    assert on["INSPECT_WANDB_WEAVE_ENABLED"] == "true" and on["WANDB_DISABLE_WEAVE"] == "true"
    assert (on["WANDB_PROJECT"], on["WANDB_ENTITY"]) == ("evals", "team")  # where its Weave hooks trace
