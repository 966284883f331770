import pytest

from eval_orchestrator.errors import RefError
from eval_orchestrator.refs import CheckpointRef, format_ref, parse_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local-registry/tiny:v1", CheckpointRef("local", "tiny", "v1")),
        ("local-registry/tiny:prod", CheckpointRef("local", "tiny", "prod")),
        ("wandb-registry-model/llama:latest", CheckpointRef("wandb", "llama", "latest", "wandb-registry-model")),
        (
            "acme-org/wandb-registry-model/llama:v3",
            CheckpointRef("wandb", "llama", "v3", "wandb-registry-model", "acme-org"),
        ),
        ("team/proj/ckpt-7b:v12", CheckpointRef("wandb", "ckpt-7b", "v12", "proj", "team")),
        ("team/model-registry/llama:prod", CheckpointRef("wandb", "llama", "prod", "model-registry", "team")),
        ("wandb-registry-evals/x.y_z:best-1", CheckpointRef("wandb", "x.y_z", "best-1", "wandb-registry-evals")),
    ],
)
def test_parse_and_round_trip(text: str, expected: CheckpointRef) -> None:
    ref = parse_ref(text)
    assert ref == expected
    assert format_ref(ref) == text
    assert parse_ref(format_ref(ref)) == ref


def test_missing_alias_means_latest() -> None:
    ref = parse_ref("local-registry/tiny")
    assert ref.alias == "latest"
    assert str(ref) == "local-registry/tiny:latest"


def test_version_index() -> None:
    assert parse_ref("local-registry/tiny:v7").version_index == 7
    assert parse_ref("local-registry/tiny:v7-local").version_index is None
    assert parse_ref("wandb-registry-model/a:v0").is_registry
    assert not parse_ref("team/proj/a:v0").is_registry


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("tiny:v1", "bare name"),
        ("local-registry/tiny:", "nothing after ':'"),
        ("local-registry/ti ny:v1", "segment"),
        ("somewhere/tiny:v1", "unknown registry"),
        ("a/b/c/d:v1", "too many"),
        ("local-registry//tiny:v1", "empty path segment"),
        ("local-registry/tiny:v1:v2", "alias"),
        ("team/local-registry/tiny:v1", "takes no entity"),
    ],
)
def test_malformed_refs_say_why(text: str, fragment: str) -> None:
    with pytest.raises(RefError) as info:
        parse_ref(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert "expected e.g." in message
