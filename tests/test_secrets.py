"""Secrets are declared by name and reach evals through the environment only: a distinctive planted
secret, sent through each channel a user might use, is found in zero files we write or upload
(W&B run files read as bytes, Inspect logs read back, summaries, spools, exports, stdout/stderr,
and what the W&B test server received)."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest

from tests.cli import Completed, invoke
from tests.servers.wandb_server import Server
from tests.test_cli import assert_one_line_error

PLANT = "PLANTED-8f3a9c2e-do-not-leak"
FIXTURES = Path(__file__).parent / "fixtures"
SECRET_TASK = f"{FIXTURES / 'secret_tasks.py'}@needs_secret"
CLI = [sys.executable, "-m", "eval_orchestrator.cli"]


def _blobs(data: bytes) -> list[bytes]:
    """The bytes, and an Inspect .eval log (a zip, zstd-compressed) read back whole through Inspect."""
    out = [data]
    if data[:4] == b"PK\x03\x04":
        from inspect_ai.log import read_eval_log

        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "log.eval"
            copy.write_bytes(data)
            out.append(read_eval_log(str(copy)).model_dump_json().encode())
    return out


def leaks(root: Path, *outputs: str, skip: tuple[Path, ...] = ()) -> list[str]:
    found = [f"output #{i}" for i, text in enumerate(outputs) if PLANT in text]
    for path in root.rglob("*"):
        if path in skip or path.is_symlink() or not path.is_file():
            continue
        if any(PLANT.encode() in blob for blob in _blobs(path.read_bytes())):
            found.append(str(path.relative_to(root)))
    return found


def server_leaks(server: Server) -> list[str]:
    state = server.state
    found = [f"upload {path}" for path, data in state.uploads.items() if any(PLANT.encode() in b for b in _blobs(data))]
    if PLANT in json.dumps(list(state.runs.values()), default=str):
        found.append("run configs / metadata")
    if PLANT in json.dumps(state.file_stream, default=str):
        found.append("file_stream (history, summary, wandb-metadata.json)")
    if PLANT in json.dumps([v.metadata for c in state.collections.values() for v in c.versions], default=str):
        found.append("artifact metadata")
    return found


def cli(*args: str, env: dict[str, str] | None = None) -> Completed:
    return invoke(*args, env=env)


@pytest.fixture
def registered(isolated_env: Path) -> str:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "weights.bin").write_bytes(b"w" * 100)
    done = cli("registry", "add", str(source), "--name", "tiny")
    assert done.returncode == 0, done.stderr
    return "local-registry/tiny"


def _run(ref: str, *extra: str, env: dict[str, str] | None = None) -> Completed:
    return cli(
        "run", "--checkpoint", ref, "--task", SECRET_TASK, "--model", "mockllm/model",
        "--display", "none", "--json", *extra, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("channel", "args"),
    [
        ("-T", ["-T", f"hf_token={PLANT}"]),
        ("-M", ["-M", f"api_key={PLANT}"]),
        ("-M camelCase", ["-M", f"apiKey={PLANT}"]),
    ],
)
def test_a_secret_on_the_command_line_is_refused_and_written_nowhere(
    isolated_env: Path, registered: str, channel: str, args: list[str]
) -> None:
    done = _run(registered, *args)
    assert_one_line_error(done, "looks like a secret")
    assert "declare it under secrets:" in done.stderr
    assert leaks(isolated_env, done.stdout, done.stderr) == [], channel
    assert not (isolated_env / "store").exists()  # refused before any checkpoint work


def test_a_secret_in_a_config_file_is_refused(isolated_env: Path, registered: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path_factory.mktemp("user-files")
    for section in ({"wandb": {"config": {"db_password": PLANT}}}, {"model": {"args": {"hf_token": PLANT}}}):
        plan = outside / "plan.yaml"
        plan.write_text(json.dumps({"checkpoints": [registered], "tasks": [SECRET_TASK], **section}))
        done = cli("run", "--config", str(plan))
        assert_one_line_error(done, "looks like a secret")
        assert leaks(isolated_env, done.stdout, done.stderr) == []


@pytest.mark.determined
def test_a_secret_in_a_config_file_is_refused_by_the_determined_export(
    isolated_env: Path, registered: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("user-files")
    for section in ({"wandb": {"config": {"db_password": PLANT}}}, {"model": {"args": {"hf_token": PLANT}}}):
        plan = outside / "plan.yaml"
        plan.write_text(json.dumps({"checkpoints": [registered], "tasks": [SECRET_TASK], **section}))
        exported = cli("determined", "export", str(plan), "-o", str(isolated_env / "experiment.yaml"))
        assert_one_line_error(exported, "looks like a secret")
        assert not (isolated_env / "experiment.yaml").exists()
    tasks_arg = outside / "tasks.yaml"  # a task arg: the export's own refusal used to miss this section
    tasks_arg.write_text(
        json.dumps({"checkpoints": [registered], "tasks": [{"spec": SECRET_TASK, "args": {"token": PLANT}}]})
    )
    exported = cli("determined", "export", str(tasks_arg), "-o", str(isolated_env / "experiment.yaml"))
    assert_one_line_error(exported, "tasks[0].args")
    assert leaks(isolated_env, exported.stdout, exported.stderr) == []


def test_secret_registry_metadata_is_refused(isolated_env: Path, registered: str) -> None:
    done = cli("registry", "add", str(isolated_env / "ckpt"), "--name", "tiny", "--metadata", f"hf_token={PLANT}")
    assert_one_line_error(done, "looks like a secret")
    assert leaks(isolated_env, done.stdout, done.stderr) == []


def test_a_declared_secret_reaches_the_eval_and_is_written_nowhere(
    isolated_env: Path, registered: str, wandb_server: Server
) -> None:
    (isolated_env / ".env").write_text(f"HF_TOKEN={PLANT}\n")  # a .env holding a secret, as users keep them
    env = {
        "EVAL_TEST_TOKEN": PLANT,
        "EVAL_TEST_TOKEN_SHA256": hashlib.sha256(PLANT.encode()).hexdigest(),
        "WANDB_MODE": "offline",
    }
    missing = _run(registered, "--secret", "EVAL_TEST_TOKEN", "--secret", "NOT_SET_ANYWHERE", env=env)
    assert_one_line_error(missing, "declared secret(s) not set: NOT_SET_ANYWHERE")
    assert not (isolated_env / "store").exists()  # before any checkpoint work

    done = _run(registered, "--secret", "EVAL_TEST_TOKEN", "--secret", "HF_TOKEN", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["metrics"]["includes/accuracy"] == 1.0  # the task saw the secret
    resolved = cli("resolve", registered, "--json")
    synced = cli("sync")
    assert synced.returncode == 0, synced.stderr[-3000:]
    outputs = (done.stdout, done.stderr, resolved.stdout, resolved.stderr, synced.stdout, synced.stderr)
    assert leaks(isolated_env, *outputs) == [".env"]  # the grep finds what is there: the user's own .env
    assert leaks(isolated_env, *outputs, skip=(isolated_env / ".env",)) == []
    assert any((isolated_env / "wb").rglob("*.wandb")) and any((isolated_env / "logs").rglob("*.eval"))
    assert wandb_server.state.uploads and server_leaks(wandb_server) == []


def test_secret_metadata_of_a_w_and_b_version_is_redacted(isolated_env: Path, wandb_server: Server) -> None:
    state = wandb_server.state
    state.add_version("team", "models", "tiny", {"w.bin": b"w" * 10}, ("prod",), metadata={"hf_token": PLANT, "lr": 3})
    resolved = cli("resolve", "team/models/tiny:prod", "--json")
    assert resolved.returncode == 0, resolved.stderr[-3000:]
    assert json.loads(resolved.stdout)["metadata"] == {"hf_token": "***", "lr": 3}
    done = _run("team/models/tiny:prod", env={"EVAL_TEST_TOKEN": "x", "WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert leaks(isolated_env, resolved.stdout, done.stdout, done.stderr) == []


def _inspects_own(root: Path) -> tuple[Path, ...]:
    """What Inspect itself writes in the log dirs (its logs and listings): Inspect's files, not ours."""
    logs = root / "logs"
    return tuple(p for p in logs.rglob("*") if p.is_file() and "eval-orchestrator" not in p.relative_to(logs).parts)


@pytest.mark.parametrize("writer", ["inline", "process"])  # the W&B runs in this process, or the writer process
def test_a_declared_secret_a_task_echoes_is_scrubbed_from_all_we_write(
    isolated_env: Path, registered: str, wandb_server: Server, caplog: pytest.LogCaptureFixture, writer: str
) -> None:
    echo = f"{FIXTURES / 'secret_tasks.py'}@echoes_secret"
    env = {"EVAL_TEST_TOKEN": PLANT, "WANDB_MODE": "online", "WANDB_PROJECT": "evals", "WANDB_ENTITY": "team"}
    done = cli("run", "--checkpoint", registered, "--task", echo, "--model", "mockllm/model", "--display", "none",
               "--fail-on-error", "0.5", "--secret", "EVAL_TEST_TOKEN", "--json", "--log-dir", "logs",
               "--wandb-writer", writer, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    inspects = _inspects_own(isolated_env)
    assert any(PLANT.encode() in p.read_bytes() or p.suffix == ".eval" for p in inspects)  # Inspect recorded it
    assert leaks(isolated_env, done.stdout, skip=inspects) == []
    assert wandb_server.state.uploads and server_leaks(wandb_server) == []
    assert "***EVAL_TEST_TOKEN***" in json.dumps(wandb_server.state.file_stream) or any(
        b"***EVAL_TEST_TOKEN***" in blob for data in wandb_server.state.uploads.values() for blob in _blobs(data)
    )  # replaced where it was, not dropped
    if writer == "inline":  # (the writer process logs that warning to its own stderr, not to this caplog)
        warned = [r.getMessage() for r in caplog.records if "holds the value of declared secret" in r.getMessage()]
        assert warned and "secret(s) EVAL_TEST_TOKEN" in warned[0]  # named, never shown
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("eval_orchestrator"))
    assert PLANT not in done.stderr and PLANT not in ours  # (Inspect's own trace log is Inspect's)


@pytest.mark.parametrize(
    ("channel", "args", "kind"),
    [
        ("-T note", ["-T", "note=sk-proj-abcdefghijklmnopqrstuvwx12345678"], "OpenAI API key"),
        ("-M base", ["-M", "header=Bearer abcdefghijklmnopqrstuvwx12345678"], "bearer token"),
        ("--model-role", ["--model-role", "grader=mockllm/hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"], "Hugging Face"),
        ("a JWT", ["-T", "note=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz"], "JSON Web Token"),
        ("an AWS key", ["-M", "region_hint=AKIAIOSFODNN7EXAMPLE"], "AWS Access Key"),
    ],
)
def test_a_credential_under_a_harmless_key_is_refused(
    isolated_env: Path, registered: str, channel: str, args: list[str], kind: str
) -> None:
    done = _run(registered, *args)
    assert_one_line_error(done, f"holds what looks like a {kind}")
    assert "declare its name under secrets:" in done.stderr and args[1].split("=", 1)[1] not in done.stderr
    assert not (isolated_env / "store").exists(), channel


def test_a_credential_in_registry_metadata_or_description_is_refused(isolated_env: Path, registered: str) -> None:
    source = str(isolated_env / "ckpt")
    for extra in (["--metadata", "note=ghp_abcdefghijklmnopqrstuvwxyzABCDEF1234"],
                  ["--description", "key sk-ant-abcdefghijklmnopqrstuvwxyz0123"]):  # fmt: skip
        done = cli("registry", "add", source, "--name", "tiny", *extra)
        assert_one_line_error(done, "holds what looks like a")
    assert [v["version"] for v in json.loads(cli("registry", "ls", "tiny", "--json").stdout)] == ["v0"]
