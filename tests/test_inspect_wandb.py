"""inspect-wandb (with its weave extra) installed beside us, as the `weave` extra installs it.

Switch off (the default): exactly one W&B run per job, ours, and Weave never imported. Switch on
(`wandb.weave: true`): inspect-wandb's Weave hooks trace each eval, with our checkpoint name,
version and digest, to a loopback stand-in of Weave's trace server, beside our one W&B run; no
Sentry report leaves, and a Weave server that is down skips the traces, not the eval.
Each CLI run is a subprocess with `tests/fixtures/network_audit` on its path: it refuses and
records any attempt to reach a host other than loopback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.servers.wandb_server import API_KEY, Server
from tests.servers.weave_server import WeaveServer
from tests.test_cli import assert_one_line_error, cli

FIXTURES = Path(__file__).parent / "fixtures"
SKILL = FIXTURES / "skill_tasks.py"
SAMPLES = 20  # the skill task's

# inspect-wandb and weave are in the main venv (the weave extra); .venv-determined has neither.
needs_weave = pytest.mark.skipif(
    importlib.util.find_spec("inspect_wandb") is None or importlib.util.find_spec("weave") is None,
    reason="needs inspect-wandb[weave]: pip install 'eval-orchestrator[weave]' (make install does)",
)


@pytest.fixture
def tiny(isolated_env: Path) -> str:
    """A registered checkpoint for the skill task (5 of its 20 questions right); its digest."""
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("5")
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0
    [version] = json.loads(cli("registry", "ls", "tiny", "--json").stdout)
    digest: str = version["digest"]
    return digest


@pytest.fixture
def weave_server() -> Iterator[WeaveServer]:
    server = WeaveServer().start()
    yield server
    server.stop()
    assert not server.unknown, f"weave sent requests the stand-in does not answer: {server.unknown}"


def run(tmp: Path, extra_env: dict[str, str], **wandb: object) -> subprocess.CompletedProcess[str]:
    """`eval-orchestrator run` on tiny with the skill task, audited."""
    plan = {
        "checkpoints": ["local-registry/tiny"],
        "tasks": [f"{SKILL}@skill"],
        "model": {"name": "mockllm/{path}"},
        "inspect": {"display": "none", "log_dir": str(tmp / "logs")},
        "wandb": {"project": "evals", "entity": "team", **wandb},
    }
    (tmp / "plan.yaml").write_text(yaml.safe_dump(plan))
    (tmp / "audit").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(FIXTURES / "network_audit"),
        "NETWORK_AUDIT_DIR": str(tmp / "audit"),
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "-m", "eval_orchestrator.cli", "run", "--config", str(tmp / "plan.yaml")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def outside_hosts(tmp: Path) -> list[str]:
    log = tmp / "audit" / "outside-hosts.log"
    return [line.split()[-1] for line in log.read_text().splitlines()] if log.exists() else []


def runs_in_evals(server: Server) -> list[tuple[str, str, str]]:
    """The W&B runs the test server holds in team/evals, where the plan logs."""
    return [key for key in server.state.runs if key[:2] == ("team", "evals")]


def weave_modules(tmp: Path) -> set[str]:
    """The weave / sentry_sdk modules any audited process imported."""
    return {name for line in (tmp / "audit" / "modules.txt").read_text().splitlines() for name in line.split()[1:]}


@needs_weave
def test_switch_off_one_w_and_b_run_per_job_and_weave_never_imported(isolated_env: Path, tiny: str) -> None:
    # What inspect-wandb needs to switch itself on: a key, a project and an entity (W&B stays offline).
    env = {"WANDB_PROJECT": "evals", "WANDB_ENTITY": "team", "WANDB_API_KEY": "e0" * 20, "WANDB_MODE": "offline"}
    done = run(isolated_env, env, mode="offline")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted((isolated_env / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs  # one job, one run: ours
    # inspect-wandb was loaded (its hooks registered) but never imported Weave, nor Sentry with it.
    assert weave_modules(isolated_env) == set()
    assert outside_hosts(isolated_env) == []
    assert "Weave" not in done.stderr and "weave" not in done.stderr


@needs_weave
def test_switch_on_traces_each_eval_to_weave_with_the_checkpoint_it_measured(
    wandb_server: Server, weave_server: WeaveServer, isolated_env: Path, tiny: str
) -> None:
    env = {"WANDB_BASE_URL": wandb_server.url, "WANDB_API_KEY": API_KEY, "WANDB_MODE": "online"}
    env["WF_TRACE_SERVER_URL"] = weave_server.url
    done = run(isolated_env, env, mode="online", weave=True)
    assert done.returncode == 0, done.stderr[-3000:]

    # Our one W&B run for the job; inspect-wandb's W&B Models hooks made none.
    assert len(runs_in_evals(wandb_server)) == 1

    calls = weave_server.calls()
    [evaluation] = [c for c in calls if "/op/Evaluation.evaluate:" in c["op_name"]]
    assert evaluation["project_id"] == "team/evals" and evaluation["display_name"] == "skill"
    attributes = evaluation["attributes"]
    assert attributes["checkpoint_name"] == "tiny" and attributes["checkpoint_version"] == "v0"
    assert attributes["checkpoint_digest"] == tiny
    assert attributes["eval_orchestrator"]["job"]["ref"] == "local-registry/tiny:v0"
    # Per-sample traces, each under the evaluation.
    predictions = [c for c in calls if "/op/Evaluation.predict_and_score:" in c["op_name"]]
    assert len(predictions) == SAMPLES
    assert {c["trace_id"] for c in predictions} == {evaluation["trace_id"]}
    # The evaluation's summary is the score our W&B run has: 5 of 20.
    assert weave_server.output_of(evaluation["id"])["summary"]["includes"]["accuracy"] == 0.25

    # Nothing else left the machine: no Sentry report at exit (weave reports its own errors there,
    # retrying). Weave's one PyPI version check at init is its own; it was refused like the rest.
    hosts = outside_hosts(isolated_env)
    assert not [h for h in hosts if "sentry" in h], hosts
    assert set(hosts) <= {"pypi.org"}, hosts
    assert "weave" in weave_modules(isolated_env)


@needs_weave
def test_switch_on_with_weave_down_skips_the_traces_not_the_eval(
    wandb_server: Server, isolated_env: Path, tiny: str
) -> None:
    down = WeaveServer()  # bound, then closed: nothing listens there
    url = down.url
    down.stop()
    env = {"WANDB_BASE_URL": wandb_server.url, "WANDB_API_KEY": API_KEY, "WANDB_MODE": "online"}
    env["WF_TRACE_SERVER_URL"] = url
    done = run(isolated_env, env, mode="online", weave=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Weave traces skipped: ConnectionError connecting to" in done.stderr
    assert len(runs_in_evals(wandb_server)) == 1
    assert not [h for h in outside_hosts(isolated_env) if "sentry" in h]


@needs_weave
def test_switch_on_needs_w_and_b_online(isolated_env: Path, tiny: str) -> None:
    done = run(isolated_env, {}, mode="offline", weave=True)
    assert_one_line_error(done, "wandb.weave: true needs W&B online (Weave has no offline mode)")


@pytest.mark.determined  # .venv-determined: the venv without inspect-wandb
def test_switch_on_needs_the_weave_extra(isolated_env: Path) -> None:
    plan = {"checkpoints": ["local-registry/tiny"], "tasks": [f"{SKILL}@skill"], "wandb": {"weave": True}}
    (isolated_env / "plan.yaml").write_text(yaml.safe_dump(plan))
    done = cli("run", "--config", str(isolated_env / "plan.yaml"))
    assert_one_line_error(done, "needs inspect-wandb's Weave hooks, but inspect-wandb is not installed")
    assert "pip install 'inspect-wandb[weave]'" in done.stderr
