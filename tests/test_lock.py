"""`lock` and `run --locked`: a plan's aliases pinned to versions and digests, its tasks to their
sources; a locked run evaluates exactly the pinned versions after the aliases moved, refuses a
version that is gone or changed, and runs from the store when the registry is out of reach."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.cli import invoke
from tests.servers.wandb_server import Server
from tests.test_cli import assert_one_line_error, cli
from tests.wandb_files import read_runs

SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"


def register(root: Path, skill: int, *args: str) -> None:
    source = root / f"src-{skill}"
    source.mkdir()
    (source / "skill.txt").write_text(str(skill))
    done = cli("registry", "add", str(source), "--name", "tiny", *args)
    assert done.returncode == 0, done.stderr


def write_plan(root: Path, checkpoint: str) -> Path:
    shutil.copy(SKILL, root / SKILL.name)
    plan = root / "plan.yaml"
    plan.write_text(json.dumps({
        "checkpoints": [checkpoint], "tasks": [f"{SKILL.name}@skill"], "model": {"name": "mockllm/{path}"},
        "inspect": {"display": "none", "log_dir": "logs"},
    }))  # fmt: skip
    return plan


def run_locked(lock: Path) -> subprocess.CompletedProcess[str]:
    return invoke("run", "--locked", str(lock), "--json")  # fmt: skip


def test_a_locked_run_evaluates_the_pinned_version_after_the_alias_moved(isolated_env: Path) -> None:
    register(isolated_env, 3, "--alias", "prod")
    plan = write_plan(isolated_env, "local-registry/tiny:prod")
    locked = cli("lock", str(plan))
    assert locked.returncode == 0, locked.stderr
    assert "local-registry/tiny:prod -> local-registry/tiny:v0" in locked.stdout
    lock = yaml.safe_load((isolated_env / "plan.lock").read_text())
    assert lock["tasks"][0]["file_sha256"] and lock["versions"]["inspect-ai"]
    assert [c["pinned"] for c in lock["checkpoints"]] == ["local-registry/tiny:v0"]

    register(isolated_env, 9, "--alias", "prod")  # prod moves to v1
    done = run_locked(isolated_env / "plan.lock")
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["version"] == "v0" and outcome["metrics"]["includes/accuracy"] == 3 / 20
    [wandb_run] = read_runs(isolated_env / "wb")  # the lockfile is logged with the run
    assert wandb_run.config["lockfile_sha256"] and wandb_run.config["locked_checkpoints"] == {
        "local-registry/tiny:prod": "local-registry/tiny:v0"
    }

    (isolated_env / SKILL.name).write_text(SKILL.read_text() + "\n# edited\n")
    assert_one_line_error(run_locked(isolated_env / "plan.lock"), "changed since the lock")


def refused(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    """Exit 2 and one `error:` line (after the run's own progress lines), no traceback."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and len(errors) == 1 and fragment in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_a_locked_version_gone_or_changed_is_refused(isolated_env: Path) -> None:
    register(isolated_env, 3)
    plan = write_plan(isolated_env, "local-registry/tiny")
    assert cli("lock", str(plan), "-o", str(isolated_env / "a.lock")).returncode == 0
    text = (isolated_env / "a.lock").read_text()
    (isolated_env / "gone.lock").write_text(text.replace("local-registry/tiny:v0", "local-registry/tiny:v7"))
    refused(run_locked(isolated_env / "gone.lock"), "the locked version local-registry/tiny:v7 is gone")
    digest = yaml.safe_load(text)["checkpoints"][0]["digest"]
    (isolated_env / "changed.lock").write_text(text.replace(digest, "f" * 32))
    refused(run_locked(isolated_env / "changed.lock"), "the lock pins ffffffffffff")
    assert_one_line_error(cli("run", "--locked", str(isolated_env / "a.lock"), "--checkpoint", "x/y/z"), "--locked")


def test_a_locked_run_works_from_the_store_with_w_and_b_out_of_reach(isolated_env: Path, wandb_server: Server) -> None:
    wandb_server.state.add_version("team", "models", "tiny", {"skill.txt": b"5"}, ("prod",))
    plan = write_plan(isolated_env, "team/models/tiny:prod")
    assert cli("lock", str(plan)).returncode == 0
    first = run_locked(isolated_env / "plan.lock")  # fetches v0 into the store
    assert first.returncode == 0, first.stderr[-3000:]
    wandb_server.stop()
    offline = run_locked(isolated_env / "plan.lock")
    assert offline.returncode == 0, offline.stderr[-3000:]
    assert "registry unreachable; using the stored copy of the locked digest" in offline.stderr
    assert json.loads(offline.stdout)[0]["version"] == "v0"
