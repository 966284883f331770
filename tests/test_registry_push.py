"""`registry push` through the CLI: a local version lands in W&B with its files, metadata and aliases."""

from __future__ import annotations

import json
from pathlib import Path

from tests.servers.wandb_server import ORG_ENTITY, VIEWER, Server
from tests.test_cli import assert_one_line_error, cli
from tests.trees import read_tree


def _add_local(checkpoint_dir: Path) -> dict[str, object]:
    added = cli(
        "registry",
        "add",
        str(checkpoint_dir),
        "--name",
        "tiny",
        "--alias",
        "prod",
        "--metadata",
        "step=300",
        "--description",
        "trained",
    )
    assert added.returncode == 0, added.stderr
    [row] = json.loads(cli("registry", "ls", "--json").stdout)
    return row  # type: ignore[no-any-return]


def test_push_to_the_model_registry(wandb_server: Server, checkpoint_dir: Path) -> None:
    local = _add_local(checkpoint_dir)
    result = cli(
        "registry", "push", "local-registry/tiny:prod", "--to", "wandb-registry-model/tiny", "--project", "evals"
    )
    assert result.returncode == 0, result.stderr
    assert "pushed local-registry/tiny:v0 -> wandb-registry-model/tiny:v0" in result.stdout

    state = wandb_server.state
    portfolio = state.collections[(ORG_ENTITY, "wandb-registry-model", "tiny")]
    [version] = portfolio.versions
    assert version.files == read_tree(checkpoint_dir)
    assert version.digest == local["digest"]
    assert version.metadata == {"step": 300} and version.description == "trained"
    assert portfolio.aliases_of(0) == ["latest", "prod"]
    # Uploaded from a run in the given project, which records the push.
    assert (VIEWER, "evals", "tiny") in state.collections
    [run] = [r for (e, p, _), r in state.runs.items() if (e, p) == (VIEWER, "evals")]
    assert run["jobType"] == "registry-push"

    resolved = json.loads(cli("resolve", "wandb-registry-model/tiny:prod", "--json").stdout)
    assert resolved["digest"] == local["digest"] and resolved["metadata"] == {"step": 300}


def test_push_to_a_team_project_twice_is_one_version(wandb_server: Server, checkpoint_dir: Path) -> None:
    _add_local(checkpoint_dir)
    for _ in range(2):
        result = cli("registry", "push", "local-registry/tiny:v0", "--to", "team/models/tiny:candidate")
        assert result.returncode == 0, result.stderr
    coll = wandb_server.state.collections[("team", "models", "tiny")]
    assert len(coll.versions) == 1  # W&B deduplicates by digest
    assert coll.aliases_of(0) == ["candidate", "latest", "prod"]


def test_push_errors(wandb_server: Server, checkpoint_dir: Path) -> None:
    _add_local(checkpoint_dir)
    assert_one_line_error(
        cli("registry", "push", "local-registry/tiny:v0", "--to", "team/models/tiny:v3"), "drop ':v3'"
    )
    assert_one_line_error(
        cli("registry", "push", "team/models/tiny:v0", "--to", "team/models/tiny"), "is not a local-registry reference"
    )
    assert_one_line_error(cli("registry", "push", "local-registry/tiny:nope", "--to", "team/models/tiny"), "nope")


def test_push_of_an_s3_reference_version_stays_a_reference(wandb_server: Server, s3: object) -> None:
    from tests.test_s3 import register, seed

    files = seed(s3, versioned=True)  # type: ignore[arg-type]
    local = register()
    result = cli("registry", "push", "local-registry/llm:v0", "--to", "team/models/llm:candidate")
    assert result.returncode == 0, result.stderr
    [version] = wandb_server.state.collections[("team", "models", "llm")].versions
    assert version.files == {}  # nothing uploaded: the bytes stay in S3
    assert {p: r["digest"] for p, r in version.refs.items()} == {p: e.digest for p, e in local.manifest.entries.items()}
    assert version.digest == local.digest
    info = json.loads(cli("resolve", "team/models/llm:candidate", "--json").stdout)
    assert info["digest"] == local.digest and read_tree(Path(info["path"])) == files
