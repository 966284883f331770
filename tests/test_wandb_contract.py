"""Contract tests of the W&B backend: the same tests against the loopback server and, when given
``WANDB_API_KEY`` and ``EVAL_ORCHESTRATOR_TEST_WANDB_PROJECT=entity/project``, against real W&B.

Artifacts are seeded with the real SDK (``wandb.init`` + ``log_artifact``) in both cases, so the
loopback server is held to the operations the SDK sends when it logs, not only when it reads.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from eval_orchestrator import orchestrate
from eval_orchestrator.errors import RegistryError
from tests.conftest import REAL_WANDB, REAL_WANDB_PROJECT
from tests.trees import read_tree


class Backend:
    def __init__(self, entity: str, project: str, tmp: Path) -> None:
        self.entity, self.project, self.tmp = entity, project, tmp

    def ref(self, name: str, alias: str) -> str:
        return f"{self.entity}/{self.project}/{name}:{alias}"

    def seed(self, name: str, files: dict[str, bytes], aliases: tuple[str, ...] = ()) -> None:
        import wandb

        folder = self.tmp / f"seed-{uuid.uuid4().hex[:8]}"
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        # base_url explicitly: wandb's process-wide settings keep the first test's server otherwise.
        settings = wandb.Settings(
            silent=True, console="off", x_disable_stats=True, x_disable_meta=True, base_url=os.environ["WANDB_BASE_URL"]
        )
        run = wandb.init(
            entity=self.entity,
            project=self.project,
            job_type="contract-test-seed",
            mode="online",
            reinit="create_new",
            settings=settings,
        )
        with run:
            artifact = wandb.Artifact(name, type="model")
            artifact.add_dir(str(folder))
            run.log_artifact(artifact, aliases=list(aliases)).wait()


def _name() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"  # fresh per test: real W&B projects are shared


def check_resolve_alias_and_version(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    name, files = _name(), {"config.json": b"{}", "weights.bin": os.urandom(70_000)}
    backend.seed(name, files, ("prod",))
    item = orchestrate.resolve(backend.ref(name, "prod"))
    assert item.resolved.version == "v0"
    assert "prod" in item.resolved.aliases and "latest" in item.resolved.aliases
    assert read_tree(item.path) == files
    assert orchestrate.resolve(backend.ref(name, "v0")).path == item.path


def check_alias_moved_resolves_anew_and_old_version_stays(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name()
    backend.seed(name, {"w.bin": b"old"}, ("prod",))
    old = orchestrate.resolve(backend.ref(name, "prod"))
    backend.seed(name, {"w.bin": b"new"}, ("prod",))
    new = orchestrate.resolve(backend.ref(name, "prod"))
    assert (old.resolved.version, new.resolved.version) == ("v0", "v1")
    assert read_tree(new.path) == {"w.bin": b"new"}
    assert read_tree(old.path) == {"w.bin": b"old"}


def check_missing_alias_and_artifact(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name()
    backend.seed(name, {"w.bin": b"x"})
    with pytest.raises(RegistryError, match="no version or alias 'prod'"):
        orchestrate.resolve(backend.ref(name, "prod"))
    with pytest.raises(RegistryError, match="not found"):
        orchestrate.resolve(backend.ref(_name(), "latest"))


def check_bad_api_key(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "f1" * 20)
    with pytest.raises(RegistryError, match="rejected the API key"):
        orchestrate.resolve(backend.ref(_name(), "latest"))


def check_history_row_count_of_a_finished_run(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check behind "W&B holds N of the run's M history rows": the query must be one W&B answers.
    import wandb

    from eval_orchestrator.wandb_api import history_rows, history_short_of

    settings = wandb.Settings(
        silent=True, console="off", x_disable_stats=True, x_disable_meta=True, base_url=os.environ["WANDB_BASE_URL"]
    )
    run = wandb.init(
        entity=backend.entity, project=backend.project, mode="online", reinit="create_new", settings=settings
    )
    with run:
        for step in range(5):
            run.log({"x": step})
    assert history_short_of(backend.entity, backend.project, run.id, 5) is None
    assert history_rows(backend.entity, backend.project, run.id) == 5
    assert history_rows(backend.entity, backend.project, f"{run.id}-none") is None


CHECKS = [check for name, check in sorted(globals().items()) if name.startswith("check_")]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__.removeprefix("check_"))
def test_contract_against_the_loopback_server(
    check: Callable[[Backend, pytest.MonkeyPatch], None], wandb_server: object, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    check(Backend("team", "proj", tmp_path), monkeypatch)


def test_contract_against_real_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check above, against real W&B: the one test that needs an account (skipped without one)."""
    if not (REAL_WANDB["WANDB_API_KEY"] and REAL_WANDB_PROJECT):
        pytest.skip(
            "needs a real W&B account: set WANDB_API_KEY and EVAL_ORCHESTRATOR_TEST_WANDB_PROJECT=entity/project"
        )
    monkeypatch.setenv("WANDB_API_KEY", REAL_WANDB["WANDB_API_KEY"] or "")
    monkeypatch.setenv("WANDB_BASE_URL", REAL_WANDB["WANDB_BASE_URL"] or "https://api.wandb.ai")
    entity, _, project = (REAL_WANDB_PROJECT or "").partition("/")
    for check in CHECKS:
        with monkeypatch.context() as scoped:
            check(Backend(entity, project, tmp_path / check.__name__), scoped)
