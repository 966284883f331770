"""Several plans on one checkpoint version: plans that change a result (here the sample limit) get
their own job keys, W&B runs and log folders; plans that differ only in their tasks share the
version's folder, where eval_set tells their logs apart; and a re-run of a plan resumes it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import invoke
from tests.test_cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
SKILL = FIXTURES / "skill_tasks.py"  # an absolute file.py without @: every task in it, as Inspect does
DICT = f"{FIXTURES / 'dict_score_tasks.py'}@agent"


def run(*args: str) -> list[dict[str, object]]:
    done = invoke("run", "--checkpoint", "local-registry/tiny",
         "--model", "mockllm/{path}", "--log-dir", "logs", "--display", "none", "--json", *args)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(done.stdout))


def test_plans_on_one_version_coexist(isolated_env: Path) -> None:
    source = isolated_env / "ckpt"
    source.mkdir()
    (source / "skill.txt").write_text("3")
    assert cli("registry", "add", str(source), "--name", "tiny").returncode == 0

    [five] = run("--task", str(SKILL), "--limit", "5")
    [ten] = run("--task", str(SKILL), "--limit", "10")
    assert five["job_key"] != ten["job_key"]  # another limit: another job, so another W&B run
    five_dir, ten_dir = Path(str(five["log"])).parent, Path(str(ten["log"])).parent
    assert five_dir != ten_dir and five_dir.parent == ten_dir.parent  # two plan folders of one version
    assert five_dir.name.startswith("plan-") and ten_dir.name.startswith("plan-")
    assert five["metrics"] != ten["metrics"] or five["metrics"]  # each scored its own samples

    [other] = run("--task", DICT, "--limit", "5")  # other tasks, same options: the same folder
    assert Path(str(other["log"])).parent == five_dir

    logs_before = sorted(p.name for p in five_dir.glob("*.eval"))
    [again] = run("--task", str(SKILL), "--limit", "5")  # a re-run resumes: same key, no new log
    assert again["job_key"] == five["job_key"] and again["log"] == five["log"]
    assert sorted(p.name for p in five_dir.glob("*.eval")) == logs_before

    # compare finds the plan: alone, or named by its config.
    plan = isolated_env / "plan.yaml"
    settings = {"model": {"name": "mockllm/{path}"}, "inspect": {"limit": 10, "log_dir": "logs"}}
    plan.write_text(json.dumps({"checkpoints": ["local-registry/tiny"], "tasks": [str(SKILL)], **settings}))
    compared = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v0", "--config", str(plan), "--json")
    assert compared.returncode == 0, compared.stderr[-3000:]
    assert json.loads(compared.stdout)[0]["n_paired"] == 10  # the limit-10 plan, not the limit-5 one
    ambiguous = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v0")
    assert ambiguous.returncode == 2 and "several plans" in ambiguous.stderr
