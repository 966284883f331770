"""`gate`: real Inspect evals of versions whose answers depend on the checkpoint, decided in one command;
the sequential design stops early on a clearly better or worse version and runs an equal one to the end."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import invoke
from tests.test_cli import assert_one_line_error

LEVEL = f"{Path(__file__).parent / 'fixtures' / 'level_tasks.py'}@level"


def _register(root: Path, level: int, *aliases: str) -> str:
    source = root / f"ckpt-{len(list(root.glob('ckpt-*')))}"
    source.mkdir()
    (source / "skill.txt").write_text(str(level))
    (source / "name.txt").write_text(source.name)  # equal levels, distinct checkpoints
    alias_args = [arg for alias in aliases for arg in ("--alias", alias)]
    done = invoke("registry", "add", str(source), "--name", "tiny", *alias_args)
    assert done.returncode == 0, done.stderr
    return f"local-registry/tiny:v{len(list(root.glob('ckpt-*'))) - 1}"


def _plan(root: Path, args: dict[str, int] | None = None, **watch: str) -> Path:
    plan = {
        "tasks": [{"spec": LEVEL, "args": args or {}}],
        "model": {"name": "mockllm/{path}", "args": {}},
        "inspect": {"log_dir": str(root / "logs"), "display": "none"},
        "wandb": {"mode": "offline", "project": "evals"},
    }
    if watch:
        plan["watch"] = {"collections": ["local-registry/tiny"], **watch}
    path = root / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def _gate(*args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    done = invoke("gate", *args, "--json")
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def test_the_sequential_gate_stops_early_on_a_clearly_better_and_a_clearly_worse_version(isolated_env: Path) -> None:
    _register(isolated_env, 40, "prod")
    high = _register(isolated_env, 80)
    plan = _plan(isolated_env, baseline="prod")
    code, better, stderr = _gate(high, "--config", str(plan), "--sequential", "--looks", "5", "--promote", "prod")
    assert code == 0, stderr
    [row] = better["decisions"]
    assert row["verdict"] == "better" and row["gate"] == "passed" and row["look"] < 5
    assert better["samples_used"] < better["samples_total"] == 200 and better["promoted"] == "prod"
    # What stopping saved, at the stages' own rate (this task calls no model: no tokens either way).
    assert better["eval_seconds"] > 0 and better["seconds_saved"] > 0 and better["tokens_used"] == 0
    listed = json.loads(invoke("registry", "ls", "tiny", "--json").stdout)
    from tests.wandb_files import read_runs

    [logged] = [run for run in read_runs(isolated_env / "wb") if run.job_type == "compare"]
    assert logged.summary["gate"] == "passed" and logged.summary["gate_sequential"] is True
    assert logged.summary[f"stopped_look/level/{row['metric']}"] == row["look"]
    assert logged.summary["samples_used"] == better["samples_used"]
    aliases = {r["version"]: r["aliases"] for r in listed}
    assert "prod" in aliases["v1"] and "prod" not in aliases["v0"]  # the alias moved
    worse = _register(isolated_env, 10)
    high_logs = sorted((isolated_env / "logs" / "tiny").glob("v1-*/plan-*/*.eval"))
    code, held, _ = _gate(worse, "--config", str(plan), "--baseline", high, "--sequential", "--looks", "5",
                          "--promote", "staging")  # fmt: skip
    assert code == 3  # held: a decision, exit 3
    [row] = held["decisions"]
    assert row["verdict"] == "worse" and row["gate"] == "held" and row["look"] < 5 and held["promoted"] is None
    assert held["samples_used"] < 200
    # The trail: the gate's move with its evidence, and the held version cannot be promoted by hand.
    [move] = json.loads(invoke("registry", "history", "tiny", "--json").stdout)
    assert (move["version"], move["previous"], move["by"], move["evidence"]["outcome"]) == (
        "v1",
        "v0",
        "gate",
        "passed",
    )
    refused = invoke("promote", worse, "--alias", "prod", "--reason", "try")
    assert refused.returncode == 3 and "held by the gate" in refused.stderr
    # The baseline's first stage is the one the first gate ran (same seeded order): reused, not rerun.
    assert high_logs and sorted((isolated_env / "logs" / "tiny").glob("v1-*/plan-*/*.eval")) == high_logs
    # Clustered: whole passages (10 questions) enter together, the first look once 10 of 20 can give a
    # cluster-robust SE (looks at 4 and 8 passages are dropped), so the design has 3 looks.
    code, clustered, _ = _gate(worse, "--config", str(plan), "--baseline", high, "--sequential", "--looks", "5",
                               "--cluster", "passage")  # fmt: skip
    assert code == 3
    [row] = clustered["decisions"]
    [compared] = clustered["comparison"]["rows"]
    assert (row["look"], row["looks"], row["used"]) == (1, 3, 120) and compared["clusters"] == 12
    assert "cluster-robust" in compared["method"] and compared["verdict"] == "worse"


def test_an_equal_version_runs_to_the_end_and_the_fixed_gate_decides_as_compare(isolated_env: Path) -> None:
    first, second = _register(isolated_env, 50), _register(isolated_env, 50)
    plan = _plan(isolated_env, {"count": 60})
    code, equal, stderr = _gate(second, "--config", str(plan), "--baseline", first, "--sequential", "--looks", "3")
    assert code == 0, stderr
    [row] = equal["decisions"]
    assert row["look"] == row["looks"] == 3 and row["verdict"] == "no detectable difference"
    assert equal["samples_used"] == equal["samples_total"] == 60 and equal["stages"] == 3
    assert row["task"].startswith("level-")  # task args: the label carries their hash
    code, fixed, _ = _gate(second, "--config", str(plan), "--baseline", first)
    assert code == 0 and fixed["comparison"]["rows"][0]["verdict"] == "no detectable difference"
    assert fixed["comparison"]["rows"][0]["n_paired"] == 60
    code, same, _ = _gate(second, "--config", str(plan), "--baseline", first, "--margin", "0.001")
    assert code == 0 and same["comparison"]["rows"][0]["verdict"] == "non-inferior"  # identical answers
    weaker = _register(isolated_env, 20)
    code, held, _ = _gate(weaker, "--config", str(plan), "--baseline", first)
    assert code == 3 and held["gate"] == "held" and held["comparison"]["rows"][0]["verdict"] == "worse"


def test_bad_gate_input_is_refused_before_any_eval(isolated_env: Path) -> None:
    only = _register(isolated_env, 50)
    plan = _plan(isolated_env)
    assert_one_line_error(invoke("gate", only, "--config", str(plan)), "no baseline: pass --baseline REF")
    assert_one_line_error(invoke("gate", only, "--config", str(plan), "--baseline", only), "are the same checkpoint")
    settings = json.loads(plan.read_text())
    settings["inspect"]["limit"] = 5
    plan.write_text(json.dumps(settings))
    other = _register(isolated_env, 60)
    done = invoke("gate", other, "--config", str(plan), "--baseline", only, "--sequential")
    assert_one_line_error(done, "the sequential gate chooses the samples itself; remove limit")
    assert not list(isolated_env.rglob("*.eval"))  # nothing was evaluated


def test_the_watcher_with_a_sequential_gate_stops_early_and_promotes(isolated_env: Path) -> None:
    _register(isolated_env, 40, "prod")
    better = _register(isolated_env, 90)
    plan = _plan(isolated_env, baseline="prod", promote="prod", ledger=str(isolated_env / "ledger.sqlite"),
                 start="latest")  # fmt: skip
    settings = json.loads(plan.read_text())
    settings["watch"]["gate"] = {"sequential": True, "looks": 5}
    plan.write_text(json.dumps(settings))
    done = invoke("watch", "--config", str(plan), "--once", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["version"]: row for row in json.loads(done.stdout)}
    decision = rows["v1"]["decision"]
    assert rows["v1"]["state"] == "promoted" and decision["promoted_alias"] == "prod", decision
    assert "better" in decision["reason"]
    # The baseline was evaluated whole (its logs in the plan's own folder); the candidate in stages, and
    # it stopped before the last: fewer of its 200 samples were evaluated than the baseline's.
    from inspect_ai.log import read_eval_log

    def samples(version: str, pattern: str) -> int:
        logs = (isolated_env / "logs" / "tiny").glob(f"{version}-*/{pattern}")
        return sum(len(read_eval_log(str(p)).samples or []) for p in logs)

    assert samples("v0", "**/*.eval") == 200
    assert 0 < samples("v1", "**/*.eval") < 200
    assert better.endswith(":v1")
