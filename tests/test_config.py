from pathlib import Path

import pytest

from eval_orchestrator.config import build_config, build_store_config, json_schema
from eval_orchestrator.errors import ConfigError, RefError
from eval_orchestrator.run_config import RunConfig

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


BASE = "checkpoints: [local-registry/tiny:v0]\ntasks: [{spec: t.py@t}]\n"


def test_shipped_configs_validate() -> None:
    for name in ("quickstart.yaml", "example.yaml"):
        config = build_config(REPO / "configs" / name, environ={})
        assert config.checkpoints and config.tasks


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    file = write(tmp_path, BASE + "wandb: {project: from-file, entity: file-entity}\ninspect: {limit: 3}\n")
    env = {"WANDB_PROJECT": "from-env"}
    config = build_config(file, {"wandb": {"project": "from-flag"}}, environ=env)
    assert config.wandb.project == "from-flag"
    assert build_config(file, {}, environ=env).wandb.project == "from-env"
    assert build_config(file, {}, environ={}).wandb.project == "from-file"
    assert config.wandb.entity == "file-entity"  # untouched keys keep the file's value
    assert config.inspect.limit == 3


def test_explicit_false_in_flags_wins(tmp_path: Path) -> None:
    file = write(tmp_path, BASE + "store: {verify: true}\n")
    assert build_config(file, {"store": {"verify": False}}, environ={}).store.verify is False


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    file = write(tmp_path, BASE + "inspect: {limt: 3}\n")
    with pytest.raises(ConfigError) as info:
        build_config(file, environ={})
    assert "unknown key 'inspect.limt'" in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_type_names_key_and_value(tmp_path: Path) -> None:
    file = write(tmp_path, BASE + "inspect: {limit: lots}\n")
    with pytest.raises(ConfigError, match=r"invalid value for 'inspect.limit' \(got 'lots'\)"):
        build_config(file, environ={})


def test_missing_required_key(tmp_path: Path) -> None:
    file = write(tmp_path, "tasks: [{spec: t.py@t}]\n")
    with pytest.raises(ConfigError, match="missing required key 'checkpoints'"):
        build_config(file, environ={})


def test_bad_env_value_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"wandb\.mode"):
        build_config(write(tmp_path, BASE), environ={"WANDB_MODE": "sometimes"})


def test_bad_ref_in_config(tmp_path: Path) -> None:
    with pytest.raises(RefError, match="nope:v1"):
        build_config(write(tmp_path, "checkpoints: [nope:v1]\ntasks: [{spec: t.py@t}]\n"), environ={})


def test_unreadable_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        build_config(write(tmp_path, "checkpoints: [a\n  b: ]"), environ={})
    with pytest.raises(ConfigError, match="not found"):
        build_config(tmp_path / "nope.yaml", environ={})


def test_schema_lists_every_section() -> None:
    schema = json_schema()
    assert set(schema["properties"]) == set(RunConfig.model_fields)
    assert "checkpoints" in schema["required"]


def test_cache_controls_from_env_with_flags_winning() -> None:
    env = {"WANDB_CACHE_SKIP": "true", "WANDB_ARTIFACT_WAIT_TIMEOUT_SEC": "60", "WANDB_ARTIFACT_DIR": "/x"}
    store = build_store_config(environ=env)
    assert (store.cache_skip, store.wait_timeout, store.artifact_dir) == (True, 60, "/x")
    store = build_store_config({"cache_skip": False, "wait_timeout": 0}, environ=env)  # explicit false and 0 win
    assert (store.cache_skip, store.wait_timeout) == (False, 0)
    with pytest.raises(ConfigError, match=r"invalid value for 'wait_timeout' \(got 'soon'\)"):
        build_store_config(environ={"WANDB_ARTIFACT_WAIT_TIMEOUT_SEC": "soon"})


def test_yaml_shorthand_for_tasks_and_checkpoints(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "checkpoints: [local-registry/tiny:v0, {ref: local-registry/tiny:v1}]\n"
        "tasks: [tasks/a.py@a, inspect_evals/gsm8k, {spec: tasks/b.py@b, args: {n: 2}}]\n"
    )
    built = build_config(config)
    assert [str(ref) for ref in built.checkpoints] == ["local-registry/tiny:v0", "local-registry/tiny:v1"]
    assert [(t.spec, t.args) for t in built.tasks] == [
        ("tasks/a.py@a", {}),
        ("inspect_evals/gsm8k", {}),
        ("tasks/b.py@b", {"n": 2}),
    ]


def test_model_args_from_flags_add_to_the_config_and_templates_stay_strings() -> None:
    from eval_orchestrator.cli.common import kv_pairs
    from eval_orchestrator.cli.run import with_model_args

    assert kv_pairs(("model_path={path}", "n=3", "opts={a: 1}"), "-M") == {
        "model_path": "{path}",  # our template, not a YAML mapping
        "n": 3,
        "opts": {"a": 1},  # a real mapping still parses
    }
    base = build_config(None, {"checkpoints": ["local-registry/tiny:v0"], "tasks": [{"spec": "t.py@t"}]})
    added = with_model_args(base, ("device=cpu",))
    assert added.model.args == {"model_path": "{path}", "do_sample": False, "device": "cpu"}  # defaults kept
    assert with_model_args(base, ("do_sample=true",)).model.args["do_sample"] is True  # and overridable
