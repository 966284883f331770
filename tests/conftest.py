"""Shared fixtures: every test gets its own registry, store, log dir and W&B dir, offline."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# Before anything imports wandb or transformers: nothing may reach the network or the home dir.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("INSPECT_DISPLAY", "none")
# Read by Ray when it is imported: every Ray node a test starts, and every driver, on 127.0.0.1 (by
# default Ray binds this machine's network address).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Determined SDK cannot share a venv with Inspect's ecosystem (see the Makefile): its tests
    run in `.venv-determined`, where `make test` runs them; elsewhere they say where to run them."""
    if importlib.util.find_spec("determined") is not None:
        return
    skip = pytest.mark.skip(reason="needs the determined SDK: `make test` runs these in .venv-determined")
    for item in items:
        if item.get_closest_marker("determined"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_BASE_URL", "INSPECT_REQUIRED_HOOKS"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_S3_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    # No AWS config of the developer's, and no instance-metadata probes (they wait on the network).
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # huggingface_hub's caches stay in the test
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wb-data"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wb-config"))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("EVAL_ORCHESTRATOR_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.setenv("INSPECT_LOG_DIR", str(tmp_path / "inspect-default-logs"))
    for name in ("DET_MASTER", "DET_MASTER_ADDR", "DET_USER", "DET_PASS", "DET_USER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DET_DEBUG_CONFIG_PATH", str(tmp_path / "det-config"))  # the SDK's token cache
    monkeypatch.chdir(tmp_path)  # a stray ./logs or ./wandb lands in the test's own dir
    return tmp_path


@pytest.fixture
def checkpoint_dir(tmp_path: Path) -> Path:
    """A small multi-file 'checkpoint' with a nested file (not a real model)."""
    root = tmp_path / "ckpt"
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"n_layer": 2}')
    (root / "weights.bin").write_bytes(os.urandom(300_000))
    (root / "sub" / "tokenizer.json").write_text('{"vocab": {}}')
    return root


@pytest.fixture(scope="session")
def tiny_hf_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The quickstart's tiny GPT-2, untrained and trained (built once per session)."""
    pytest.importorskip("transformers")
    from eval_orchestrator.tiny_checkpoint import build_checkpoint

    root = tmp_path_factory.mktemp("tiny-hf")
    return build_checkpoint(root / "v0", train_steps=0), build_checkpoint(root / "v1", train_steps=300)


# Captured before `isolated_env` clears them: the contract tests may also run against real W&B.
REAL_WANDB = {name: os.environ.get(name) for name in ("WANDB_API_KEY", "WANDB_BASE_URL")}
REAL_WANDB_PROJECT = os.environ.get("EVAL_ORCHESTRATOR_TEST_WANDB_PROJECT")  # "entity/project"


@pytest.fixture
def wandb_server(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The loopback W&B-protocol server, with WANDB_BASE_URL and a valid WANDB_API_KEY pointing at it."""
    from tests.servers.wandb_server import API_KEY, Server

    server = Server().start()
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", API_KEY)
    yield server
    server.stop()
    # The SDK tolerates some failed operations; the server still must have known every one it got.
    unknown = [name for name, _, _ in server.state.unknown if name != "NoSuchOperation"]
    assert not unknown, f"the SDK sent operations the test server does not speak: {unknown}"


@pytest.fixture
def unreachable_wandb(monkeypatch: pytest.MonkeyPatch) -> str:
    """WANDB_BASE_URL at a loopback port nothing listens on (and a well-formed key): W&B is down."""
    from tests.servers.wandb_server import Server

    server = Server()  # bound, then closed
    url = server.url
    server.stop()
    monkeypatch.setenv("WANDB_BASE_URL", url)
    monkeypatch.setenv("WANDB_API_KEY", "e0" * 20)
    return url


@pytest.fixture(scope="session")
def moto_s3():  # type: ignore[no-untyped-def]
    from tests.servers.s3_server import MotoS3

    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def s3(moto_s3, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """An empty S3 (moto) reached through the fault proxy via AWS_ENDPOINT_URL, with test credentials.

    Yields the proxy; ``s3.client`` talks to moto directly, for seeding without touching the counts.
    """
    import boto3

    from tests.servers.s3_server import FaultProxy

    moto_s3.reset()
    proxy = FaultProxy(moto_s3.url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    proxy.client = boto3.client("s3", endpoint_url=moto_s3.url)  # type: ignore[attr-defined]
    yield proxy
    proxy.stop()
