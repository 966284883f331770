"""The bad-input corpus: each case a command line, its environment and files, and the exit code and
error fragment it must give (run by tests/test_bad_inputs.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

TASK = Path(__file__).parent / "fixtures" / "skill_tasks.py"
Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int = 2
    fragment: str = ""  # a piece the error line must hold
    env: dict[str, str] = field(default_factory=dict)
    setup: Setup | None = None  # prepares the case's own folder (and its own registry copy)
    # "determined": runs in .venv-determined, which has the Determined SDK and not Inspect's ecosystem
    venv: Literal["main", "determined"] = "main"


def run(*args: str) -> tuple[str, ...]:
    base = ("run", "--checkpoint", "local-registry/c", "--task", f"{TASK}@skill", "--model", "mockllm/{path}")
    return (*base, *args)


def plan(text: str) -> Setup:
    return lambda root: (root / "plan.yaml").write_text(text)


def plan_bytes(data: bytes) -> Setup:
    return lambda root: (root / "plan.yaml").write_bytes(data)


def valid_plan(**extra: object) -> Setup:
    body = {"checkpoints": ["local-registry/c"], "tasks": [f"{TASK}@skill"], "model": {"name": "mockllm/{path}"}}
    return plan(json.dumps({**body, **extra}))


def gate_record(gate: object) -> Setup:
    """v1 of collection c with ``gate`` as its last gate decision in its trail metadata."""
    version = {"created_at": "2026-01-01", "metadata": {"eval_orchestrator": {"gate": gate}}}
    return damage("c/versions/v1/version.json", json.dumps(version).encode())


def damage(path: str, data: bytes | None) -> Setup:
    def setup(root: Path) -> None:
        target = root / "registry" / path
        if data is None:
            target.unlink()
        else:
            target.write_bytes(data)

    return setup


def source_with(kind: str) -> Setup:
    def setup(root: Path) -> None:
        src = root / "src"
        src.mkdir()
        (src / "w.bin").write_bytes(b"w")
        if kind == "link-out":
            (src / "x").symlink_to("/etc/hostname")
        elif kind == "dangling":
            (src / "x").symlink_to("nowhere")
        elif kind == "loop":
            (src / "x").symlink_to(".")
        elif kind == "fifo":
            os.mkfifo(src / "x")
        elif kind == "empty":
            (src / "w.bin").unlink()

    return setup


LONG = "a" * 300
CASES = [
    # -- checkpoint references -------------------------------------------------------------
    *(
        Case(f"ref {ref!r}", ("resolve", ref), 2, "")
        for ref in (
            "",
            " ",
            ":",
            "local-registry/",
            "local-registry/:latest",
            "local-registry/c:",
            "local-registry/..",
            "local-registry/.",
            "local-registry/.hidden",
            "local-registry/a b",
            "local-registry/c:v999",
            "local-registry/c:nosuch",
            "local-registry/nosuch",
            "local-registry/c:la/test",
            "x",
            "a/b",
            "a/b/c/d",
            "local-registry/c/extra",
            "ent/local-registry/c",
            f"local-registry/{LONG}",
            f"local-registry/c:{LONG}",
            "local-registry/c:v-1",
            "wandb-registry-model/../x",
            "local-registry/c:lat est",
            "ümlaut/x/y",
            "local-registry/c;rm -rf",
            "local-registry/c:..",
            "local-registry/c:v1:v2",
        )
    ),
    # -- registry commands -----------------------------------------------------------------
    Case(
        "promote with an empty reason",
        ("promote", "local-registry/c:v1", "--alias", "prod", "--reason", " "),
        2,
        "--reason is empty",
    ),
    Case("promote without a reason", ("promote", "local-registry/c:v1", "--alias", "prod"), 2, "--reason"),
    Case(
        "promote onto a version name",
        ("promote", "local-registry/c:v1", "--alias", "v0", "--reason", "x"),
        2,
        "looks like a version",
    ),
    Case(
        "promote a reason with a token",
        (
            "promote",
            "local-registry/c:v1",
            "--alias",
            "prod",
            "--reason",
            "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        ),
        2,
        "--reason holds what looks like",
    ),
    Case("promote a missing version", ("promote", "local-registry/c:v7", "--alias", "prod", "--reason", "x"), 2, "v7"),
    Case(
        "promote a held version",
        ("promote", "local-registry/c:v1", "--alias", "prod", "--reason", "x"),
        3,
        "held by the gate",
        setup=gate_record({"outcome": "held", "source": "gate", "reason": "worse", "decided_at": "2026-01-01"}),
    ),
    Case(
        "promote with a damaged trail",
        ("promote", "local-registry/c:v1", "--alias", "prod", "--reason", "x"),
        2,
        "damaged",
        setup=gate_record("held"),
    ),
    Case("history of a missing collection", ("registry", "history", "nope"), 2, "not found"),
    Case("history of a bad name", ("registry", "history", "../c"), 2, ""),
    Case(
        "report to W&B disabled",
        ("report", "c", "--wandb-report", "--wandb-mode", "disabled"),
        2,
        "--wandb-report needs W&B",
    ),
    Case("add a missing dir", ("registry", "add", "nope", "--name", "n"), 2, "not found"),
    Case("add a file", ("registry", "add", "plan.yaml", "--name", "n"), 2, "not found", setup=plan("a: 1")),
    Case(
        "add an empty dir", ("registry", "add", "src", "--name", "n"), 2, "holds no files", setup=source_with("empty")
    ),
    *(
        Case(f"add --name {n!r}", ("registry", "add", "src", "--name", n), 2, "collection name", setup=source_with(""))
        for n in ("..", ".", "a/b", "", LONG, ".hidden", "a b", "c:d")
    ),
    *(
        Case(
            f"add --alias {a!r}",
            ("registry", "add", "src", "--name", "n", "--alias", a),
            2,
            "alias",
            setup=source_with(""),
        )
        for a in ("v3", "a:b", "", "..", "a/b")
    ),
    Case(
        "add --metadata novalue",
        ("registry", "add", "src", "--name", "n", "--metadata", "x"),
        2,
        "key=value",
        setup=source_with(""),
    ),
    Case(
        "add --metadata =x",
        ("registry", "add", "src", "--name", "n", "--metadata", "=x"),
        2,
        "key=value",
        setup=source_with(""),
    ),
    Case(
        "add --metadata secret",
        ("registry", "add", "src", "--name", "n", "--metadata", "api_key=x"),
        2,
        "looks like a secret",
        setup=source_with(""),
    ),
    *(
        Case(
            f"add a source with a {k} link",
            ("registry", "add", "src", "--name", "n"),
            2,
            "cannot register",
            setup=source_with(k),
        )
        for k in ("link-out", "dangling", "loop", "fifo")
    ),
    Case(
        "add from an S3 endpoint that does not answer",
        ("registry", "add", "s3://bucket/prefix", "--name", "n"),
        75,
        "did not answer",
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
    ),
    Case(
        "add from an invalid bucket",
        ("registry", "add", "s3://bad_bucket!!/x", "--name", "n"),
        2,
        "not a valid S3 location",
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
    ),
    Case("alias a bad ref", ("registry", "alias", "local-registry/..", "x"), 2, "invalid checkpoint reference"),
    Case("alias a W&B ref", ("registry", "alias", "team/p/c:v0", "x"), 2, "not a local-registry reference"),
    Case("alias named vN", ("registry", "alias", "local-registry/c:v0", "v7"), 2, "looks like a version"),
    Case("alias of a missing version", ("registry", "alias", "local-registry/c:v9", "x"), 2, "not found"),
    Case("ls a missing collection", ("registry", "ls", "nosuch"), 2, "not found"),
    Case("repair a missing collection", ("registry", "repair", "nosuch"), 2, "not found"),
    Case("repair '..'", ("registry", "repair", ".."), 2, "collection name"),
    # -- cache commands --------------------------------------------------------------------
    Case("prune --older-than junk", ("cache", "prune", "--older-than", "soon"), 2, ""),
    Case("prune --keep-latest -1", ("cache", "prune", "--keep-latest", "-1"), 2, ""),
    Case("cache ls, store is a file", ("cache", "ls", "--artifact-dir", "plan.yaml"), 2, "", setup=plan("a: 1")),
    # -- configs ---------------------------------------------------------------------------
    Case("config missing", ("run", "-c", "nope.yaml"), 2, "not found"),
    Case("config is a dir", ("run", "-c", "."), 2, ""),
    Case("config binary", ("run", "-c", "plan.yaml"), 2, "UTF-8", setup=plan_bytes(b"\xff\xfe\x00\x01junk")),
    Case(
        "config nested deeply",
        ("run", "-c", "plan.yaml"),
        2,
        "nests too deeply",
        setup=plan("a: " + "[" * 5000 + "]" * 5000),
    ),
    Case("config a list", ("run", "-c", "plan.yaml"), 2, "mapping", setup=plan("- a\n- b\n")),
    Case("config a scalar", ("run", "-c", "plan.yaml"), 2, "mapping", setup=plan("42\n")),
    Case("config bad YAML", ("run", "-c", "plan.yaml"), 2, "not valid YAML", setup=plan("a: [1, 2\n")),
    Case("config unknown key", ("run", "-c", "plan.yaml"), 2, "unknown key", setup=valid_plan(nosuch=1)),
    Case("config no checkpoints", ("run", "-c", "plan.yaml"), 2, "checkpoints", setup=plan('{"tasks": ["x.py"]}')),
    Case(
        "config no tasks", ("run", "-c", "plan.yaml"), 2, "tasks", setup=plan('{"checkpoints": ["local-registry/c"]}')
    ),
    Case("config tasks not a list", ("run", "-c", "plan.yaml"), 2, "tasks", setup=valid_plan(tasks=3)),
    Case("config bad ref", ("run", "-c", "plan.yaml"), 2, "reference", setup=valid_plan(checkpoints=["../x"])),
    Case("config epochs huge", ("run", "-c", "plan.yaml"), 2, "epochs", setup=valid_plan(inspect={"epochs": 10**11})),
    Case("config epochs 0", ("run", "-c", "plan.yaml"), 2, "epochs", setup=valid_plan(inspect={"epochs": 0})),
    Case("config limit -1", ("run", "-c", "plan.yaml"), 2, "limit", setup=valid_plan(inspect={"limit": -1})),
    Case(
        "config wait_timeout inf",
        ("run", "-c", "plan.yaml"),
        2,
        "wait_timeout",
        setup=valid_plan(store={"wait_timeout": 1e999}),
    ),
    Case(
        "config generate unknown",
        ("run", "-c", "plan.yaml"),
        2,
        "model.generate",
        setup=valid_plan(model={"name": "mockllm/{path}", "generate": {"nosuch": 1}}),
    ),
    Case(
        "config generate wrong type",
        ("run", "-c", "plan.yaml"),
        2,
        "max_tokens",
        setup=valid_plan(model={"name": "mockllm/{path}", "generate": {"max_tokens": "lots"}}),
    ),
    Case(
        "config unknown placeholder",
        ("run", "-c", "plan.yaml"),
        2,
        "{nosuch}",
        setup=valid_plan(model={"name": "hf/{nosuch}"}),
    ),
    Case(
        "config unknown provider",
        ("run", "-c", "plan.yaml"),
        2,
        "unknown model provider",
        setup=valid_plan(model={"name": "nosuchprovider/x"}),
    ),
    Case(
        "config model arg clash",
        ("run", "-c", "plan.yaml"),
        2,
        "clashes",
        setup=valid_plan(model={"name": "mockllm/{path}", "args": {"memoize": True}}),
    ),
    Case(
        "config secret arg",
        ("run", "-c", "plan.yaml"),
        2,
        "looks like a secret",
        setup=valid_plan(tasks=[{"spec": f"{TASK}@skill", "args": {"hf_token": "x"}}]),
    ),
    Case("config hook missing", ("run", "-c", "plan.yaml"), 2, "not installed", setup=valid_plan(hooks=["no/hook"])),
    Case("config secret name bad", ("run", "-c", "plan.yaml"), 2, "secrets", setup=valid_plan(secrets=["1BAD"])),
    Case("config secret unset", ("run", "-c", "plan.yaml"), 2, "not set", setup=valid_plan(secrets=["NOT_SET_X"])),
    Case(
        "config watch bad alias",
        ("watch", "-c", "plan.yaml", "--once"),
        2,
        "",
        setup=valid_plan(watch={"collections": ["local-registry/c"], "promote": "a/b"}),
    ),
    Case(
        "config watch no collections",
        ("watch", "-c", "plan.yaml", "--once"),
        2,
        "collections",
        setup=valid_plan(watch={"collections": []}),
    ),
    Case("watch without a watch section", ("watch", "-c", "plan.yaml", "--once"), 2, "watch", setup=valid_plan()),
    Case(
        "config determined executor, no master",
        ("watch", "-c", "plan.yaml", "--once"),
        2,
        "DET_MASTER",
        setup=valid_plan(
            watch={"collections": ["local-registry/c"], "executor": "determined"},
            inspect={"log_dir": "/tmp/shared-logs"},
        ),
        venv="determined",
    ),
    # -- environment -----------------------------------------------------------------------
    *(
        Case(f"env {k}={v}", ("resolve", "local-registry/c"), 2, k, env={k: v})
        for k, v in (
            ("WANDB_ARTIFACT_WAIT_TIMEOUT_SEC", "abc"),
            ("WANDB_ARTIFACT_WAIT_TIMEOUT_SEC", "-1"),
            ("WANDB_ARTIFACT_WAIT_TIMEOUT_SEC", "1e999"),
            ("WANDB_ARTIFACT_WAIT_TIMEOUT_SEC", "nan"),
            ("WANDB_CACHE_SKIP", "maybe"),
            ("EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS", "0"),
            ("EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS", "abc"),
            ("EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS", "1000"),
            ("EVAL_ORCHESTRATOR_PART_SIZE_MB", "0"),
            ("EVAL_ORCHESTRATOR_DOWNLOAD_RETRIES", "-3"),
        )
    ),
    Case("env WANDB_MODE bad", run(), 2, "WANDB_MODE", env={"WANDB_MODE": "sometimes"}),
    Case("env WANDB_PROJECT bad", run(), 2, "WANDB_PROJECT", env={"WANDB_PROJECT": "a/b"}),
    Case("env WANDB_ENTITY bad", run(), 2, "WANDB_ENTITY", env={"WANDB_ENTITY": "a b"}),
    Case(
        "env registry is a file",
        ("registry", "ls"),
        2,
        "is a file",
        env={"EVAL_ORCHESTRATOR_REGISTRY": "plan.yaml"},
        setup=plan("a: 1"),
    ),
    Case(
        "env store is a file",
        ("resolve", "local-registry/c"),
        2,
        "is a file",
        env={"WANDB_ARTIFACT_DIR": "plan.yaml"},
        setup=plan("a: 1"),
    ),
    Case("env WANDB_DIR is a file", run(), 2, "WANDB_DIR", env={"WANDB_DIR": "plan.yaml"}, setup=plan("a: 1")),
    Case(".env not UTF-8", ("registry", "ls"), 2, ".env", setup=lambda root: (root / ".env").write_bytes(b"\xff\xfe")),
    # -- flags -----------------------------------------------------------------------------
    Case("--limit 0", run("--limit", "0"), 2, "limit"),
    Case("--limit abc", run("--limit", "abc"), 2, "--limit"),
    Case("--epochs -1", run("--epochs", "-1"), 2, "epochs"),
    Case("--temperature abc", run("--temperature", "abc"), 2, "--temperature"),
    Case("-T novalue", run("-T", "x"), 2, "key=value"),
    Case("-T without --task", ("run", "--checkpoint", "local-registry/c", "-T", "a=1"), 2, "-T applies"),
    Case("-M secret", run("-M", "api_key=x"), 2, "looks like a secret"),
    Case("-M clash", run("-M", "config=1"), 2, "clashes"),
    Case("-M base template unknown", run("-M", "path={nope}"), 2, "{nope}"),
    Case("--model-role no '='", run("--model-role", "grader"), 2, "ROLE=SPEC"),
    Case("--model-role unknown provider", run("--model-role", "grader=nosuch/x"), 2, "unknown model provider"),
    Case("--model no provider", run("--model", "justaname"), 2, "<provider>/<model>"),
    Case("--model vllm not installed", run("--model", "vllm/{path}"), 2, "pip install"),
    Case("--secret bad name", run("--secret", "1BAD"), 2, "secrets"),
    Case("--secret unset", run("--secret", "NOT_SET_Y"), 2, "not set"),
    Case("--wandb-mode bad", run("--wandb-mode", "sometimes"), 2, "--wandb-mode"),
    Case("--wandb-writer bad", run("--wandb-writer", "thread"), 2, "--wandb-writer"),
    Case("--wandb-project bad", run("--wandb-project", "a#b"), 2, "W&B project"),
    Case("--log-dir into a file", run("--log-dir", "plan.yaml/x"), 2, "log dir", setup=plan("a: 1")),
    Case("--display bad", run("--display", "loud"), 2, "--display"),
    Case("unknown flag", run("--nosuch"), 2, "--nosuch"),
    Case("unknown command", ("nosuch",), 2, "nosuch"),
    Case("task missing", ("run", "--checkpoint", "local-registry/c", "--task", "nope.py"), 2, "does not exist"),
    Case("task no such name", ("run", "--checkpoint", "local-registry/c", "--task", f"{TASK}@nope"), 2, "nope"),
    Case("task package missing", ("run", "--checkpoint", "local-registry/c", "--task", "nosuchpkg/t"), 2, "installed"),
    # -- compare, report, sync, Determined --------------------------------------------------
    Case("compare bad ref", ("compare", "local-registry/..", "local-registry/c"), 2, "reference"),
    Case("compare no logs", ("compare", "local-registry/c:v0", "local-registry/c:v1"), 2, "no Inspect logs"),
    Case("compare --alpha 2", ("compare", "local-registry/c:v0", "local-registry/c:v1", "--alpha", "2"), 2, "alpha"),
    Case("compare --margin -1", ("compare", "local-registry/c:v0", "local-registry/c:v1", "--margin", "-1"), 2, ""),
    Case("report nothing", ("report", "c"), 2, "no evaluated versions"),
    Case(
        "gate no baseline",
        ("gate", "local-registry/c:v1", "--config", "plan.yaml"),
        2,
        "no baseline",
        setup=valid_plan(),
    ),
    Case(
        "gate against itself",
        ("gate", "local-registry/c:v0", "--config", "plan.yaml", "--baseline", "local-registry/c:v0"),
        2,
        "the same checkpoint",
        setup=valid_plan(),
    ),
    Case(
        "gate sequential with a limit",
        ("gate", "local-registry/c:v1", "--config", "plan.yaml", "--baseline", "local-registry/c:v0", "--sequential"),
        2,
        "chooses the samples itself",
        setup=valid_plan(inspect={"limit": 5}),
    ),
    Case(
        "gate --looks 0",
        ("gate", "local-registry/c:v1", "--config", "plan.yaml", "--looks", "0"),
        2,
        "--looks",
        setup=valid_plan(),
    ),
    Case("gate no config", ("gate", "local-registry/c:v1"), 2, "--config"),
    Case("power no logs", ("power", "--baseline", "local-registry/c:v0", "--mde", "0.1"), 2, "no Inspect logs"),
    Case("power --mde 0", ("power", "--baseline", "local-registry/c:v0", "--mde", "0"), 2, "--mde 0 must be"),
    Case(
        "power --power 2", ("power", "--baseline", "local-registry/c:v0", "--mde", "0.1", "--power", "2"), 2, "--power"
    ),
    Case("run --limit with --sample-id", run("--limit", "2", "--sample-id", "1"), 2, "cannot be used together"),
    Case("run --sample-shuffle with --sample-id", run("--sample-shuffle", "--sample-id", "1"), 2, "cannot be used"),
    Case("run -S without --solver", run("-S", "n=1"), 2, "apply to a solver; give --solver"),
    Case("run --metadata of ours", run("--metadata", "checkpoint_digest=x"), 2, "are ours"),
    Case("run --retry-on-error word", run("--retry-on-error", "often"), 2, "give true, false or an integer"),
    Case("run --solver-config missing", run("--solver", "s.py@x", "--solver-config", "nope.yaml"), 2, "cannot be read"),
    Case("run --extra-headers list", run("--extra-headers", "[1, 2]"), 2, "must be a JSON or YAML mapping"),
    Case("sync nothing", ("sync",), 2, "nothing to sync"),
    Case(
        "export missing config",
        ("determined", "export", "nope.yaml", "-o", "x.yaml"),
        2,
        "not found",
        venv="determined",
    ),
    Case(
        "export without the determined SDK",
        ("determined", "export", "plan.yaml", "-o", "x.yaml"),
        2,
        "pip install 'eval-orchestrator[determined]'",
        setup=valid_plan(),
    ),
    Case(
        "export into a missing dir",
        ("determined", "export", "plan.yaml", "-o", "no/such/dir/x.yaml"),
        2,
        "",
        setup=valid_plan(),
        venv="determined",
    ),
    Case(
        "export a secret",
        ("determined", "export", "plan.yaml", "-o", "x.yaml"),
        2,
        "looks like a secret",
        setup=valid_plan(wandb={"config": {"token": "x"}}),
        venv="determined",
    ),
    Case(
        "wandb.writer bad", ("run", "--config", "plan.yaml"), 2, "wandb.writer", setup=valid_plan(wandb={"writer": 1})
    ),
    Case(
        "wandb.weave without inspect-wandb[weave]",
        ("run", "--config", "plan.yaml"),
        2,
        "pip install 'inspect-wandb[weave]'",
        setup=valid_plan(wandb={"weave": True}),
        venv="determined",
    ),
    Case("determined run off-cluster", ("determined", "run"), 2, "--experiment-config", venv="determined"),
    Case(
        "determined run missing experiment",
        ("determined", "run", "--experiment-config", "nope.yaml"),
        2,
        "",
        venv="determined",
    ),
    Case(
        "determined run no hyperparameters",
        ("determined", "run", "--experiment-config", "plan.yaml"),
        2,
        "hyperparameters",
        setup=plan("name: x\n"),
        venv="determined",
    ),
    Case(
        "determined run searched hparam",
        ("determined", "run", "--experiment-config", "plan.yaml"),
        2,
        "searched",
        setup=plan('{"hyperparameters": {"checkpoint": {"type": "categorical", "vals": ["a"]}}}'),
        venv="determined",
    ),
    Case(
        "determined run unknown hparam",
        ("determined", "run", "--experiment-config", "plan.yaml"),
        2,
        "unknown key",
        setup=plan('{"hyperparameters": {"nosuch": 1}}'),
        venv="determined",
    ),
    # -- damaged state ---------------------------------------------------------------------
    Case(
        "aliases.json junk",
        ("resolve", "local-registry/c"),
        2,
        "registry repair",
        setup=damage("c/aliases.json", b"{x"),
    ),
    Case("aliases.json a list", ("registry", "ls"), 2, "registry repair", setup=damage("c/aliases.json", b"[1]")),
    Case(
        "manifest.json junk",
        ("resolve", "local-registry/c:v1"),
        2,
        "registry repair",
        setup=damage("c/versions/v1/manifest.json", b"\x00\x01"),
    ),
    Case(
        "manifest.json unsafe path",
        ("resolve", "local-registry/c:v1"),
        2,
        "unsafe file path",
        setup=damage("c/versions/v1/manifest.json", b'{"contents": {"../x": {"digest": "a", "size": 1}}}'),
    ),
    Case(
        "version.json missing",
        ("resolve", "local-registry/c:v1"),
        2,
        "missing",
        setup=damage("c/versions/v1/version.json", None),
    ),
    Case(
        "store stamp damaged",
        ("cache", "verify"),
        1,
        "differ from their digests",
        setup=lambda root: (
            (root / "store/checkpoints/c/0123456789abcdef0123456789abcdef/files").mkdir(parents=True),
            (root / "store/checkpoints/c/0123456789abcdef0123456789abcdef/stamp.json").write_text("[1, 2]"),
        ),
    ),
    Case(
        "config a YAML alias bomb",
        ("run", "-c", "plan.yaml"),
        2,
        "unknown key",
        setup=plan(
            'checkpoints: ["local-registry/c"]\ntasks: ["x.py"]\n'
            + "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True))
        ),
    ),
    Case(
        "spool malformed",
        ("sync",),
        2,
        "",
        setup=lambda root: (
            (root / "wb/wandb/eval-orchestrator").mkdir(parents=True),
            (root / "wb/wandb/eval-orchestrator/lineage.jsonl").write_text('{"format": 99}\n'),
        ),
    ),
]
