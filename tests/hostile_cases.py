"""The second half of the bad-input corpus: what another program, an older version of ours or an
attacker may leave on disk or send (Inspect logs, registry files, ledgers, spools, lockfiles), the
gate's inputs, and credentials under harmless keys. Each case runs through the real CLI like those
in bad_input_cases.py: exactly one `error:` line, its exit code, never a traceback or exit 70."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.bad_input_cases import TASK, Case, damage, plan, valid_plan
from tests.eval_logs import Epoch, write_log

Setup = Callable[[Path], None]
COMPARE = ("compare", "local-registry/c:v0", "local-registry/c:v1", "--log-dir", "logs")
GATE = (*COMPARE, "--fail-on-regression")


def _digest(root: Path, version: str) -> str:
    from eval_orchestrator.checkpoint import Manifest

    data = json.loads((root / "registry" / "c" / "versions" / version / "manifest.json").read_text())
    return Manifest.from_json(data).digest


def _log_path(root: Path, version: str, task: str = "qa") -> Path:
    return root / "logs" / "c" / f"{version}-{_digest(root, version)[:12]}" / f"{task}.eval"


def _good(n: int = 30, value: int = 1, prefix: str = "s") -> list[Epoch]:
    return [Epoch(f"{prefix}{i}", 1, {"acc": value if i % 3 else 1 - value}) for i in range(n)]


def logs(candidate: list[Epoch] | None, cand_task: str = "qa", **meta: object) -> Setup:
    """A baseline log of 30 scored samples, and the candidate's log (None: the candidate has none)."""

    def setup(root: Path) -> None:
        write_log(_log_path(root, "v0"), "qa", [Epoch(f"s{i}", 1, {"acc": i % 2}, metadata=meta) for i in range(30)])
        if candidate is not None:
            write_log(_log_path(root, "v1", cand_task), cand_task, candidate)

    return setup


def corrupt_log(how: str) -> Setup:
    """Both versions have a log; the candidate's is damaged ``how``."""

    def setup(root: Path) -> None:
        logs(_good())(root)
        target = _log_path(root, "v1")
        data = target.read_bytes()
        if how == "truncated":
            target.write_bytes(data[: len(data) // 2])
        elif how == "random":
            target.write_bytes(bytes((i * 97 + 13) % 256 for i in range(4096)))
        elif how == "empty":
            target.write_bytes(b"")
        elif how == "text":
            target.write_text("not a log at all\n")
        else:  # a member replaced: header.json or summaries.json
            member, body = how.split(":", 1)
            with zipfile.ZipFile(target) as inside:
                members = {item.filename: inside.read(item) for item in inside.infolist()}
            members[member] = body.encode()
            with zipfile.ZipFile(target, "w") as out:
                for name, content in members.items():
                    out.writestr(name, content)

    return setup


def registry_file(path: str, data: object) -> Setup:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return damage(path, raw)


def ledger(sql: str) -> Setup:
    """A watch plan whose ledger file another program (or version) wrote."""

    def setup(root: Path) -> None:
        valid_plan(watch={"collections": ["local-registry/c"], "ledger": "ledger.sqlite"})(root)
        if sql.startswith("raw:"):
            (root / "ledger.sqlite").write_bytes(sql[4:].encode())
            return
        db = sqlite3.connect(root / "ledger.sqlite")
        db.executescript(sql)
        db.commit()
        db.close()

    return setup


V2_ROW = (
    "CREATE TABLE versions (registry TEXT, source TEXT, digest TEXT, plan TEXT, version TEXT, number INTEGER, "
    "ref TEXT, role TEXT, state TEXT, attempts INTEGER, next_attempt_at REAL, claimed_by TEXT, lease_until REAL, "
    "decision TEXT, error TEXT, created_at REAL, updated_at REAL, external TEXT, "
    "PRIMARY KEY (registry, source, digest, plan));"
)


def _row(**fields: object) -> str:
    row = {
        "registry": "local",
        "source": "local-registry/c",
        "digest": "d",
        "plan": "p",
        "version": "v0",
        "number": 0,
        "ref": "local-registry/c:v0",
        "role": "candidate",
        "state": "discovered",
        "attempts": 0,
        "next_attempt_at": 0,
        "claimed_by": None,
        "lease_until": 0,
        "decision": None,
        "error": None,
        "created_at": 0,
        "updated_at": 0,
        "external": None,
        **fields,
    }
    values = ", ".join("NULL" if v is None else repr(v) if isinstance(v, str) else str(v) for v in row.values())
    return f"{V2_ROW} INSERT INTO versions VALUES ({values});"


def spool(content: bytes) -> Setup:
    def setup(root: Path) -> None:
        folder = root / "wb" / "wandb" / "eval-orchestrator"
        folder.mkdir(parents=True)
        (folder / "lineage.jsonl").write_bytes(content)

    return setup


def lockfile(content: str) -> Setup:
    return lambda root: (root / "plan.lock").write_text(content)


DEEP = "[" * 5000 + "]" * 5000
RECORD = {
    "job_key": "k",
    "run_id": "r",
    "local_run_id": "r",
    "mode": "offline",
    "model_ref": "local-registry/c:v0",
    "model_digest": "d",
    "status": "success",
}
SK = "sk-proj-abcdefghijklmnopqrstuvwx12345678"
GH = "ghp_abcdefghijklmnopqrstuvwxyzABCDEF1234"
HF = "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"
AWS = "AKIAIOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz"
RUN = ("run", "--checkpoint", "local-registry/c", "--task", f"{TASK}@skill", "--model", "mockllm/{path}")

HOSTILE_CASES = [
    # -- the gate fails closed -------------------------------------------------------------
    *(
        Case(f"gate --margin {m}", (*GATE, "--margin", m), 2, "margin", setup=logs(_good()))
        for m in ("nan", "inf", "-inf", "-0.5", "NaN", "1e400")
    ),
    *(
        Case(f"gate --margin {m} on an accuracy", (*GATE, "--margin", m), 2, "not below the range", setup=logs(_good()))
        for m in ("1", "5", "1000")
    ),
    *(
        Case(f"compare --alpha {a}", (*COMPARE, "--alpha", a), 2, "alpha", setup=logs(_good()))
        for a in ("0", "1", "nan", "-0.1", "inf")
    ),
    Case("compare --resamples 5", (*COMPARE, "--resamples", "5"), 2, "resamples", setup=logs(_good())),
    Case("gate: candidate with no samples", GATE, 3, "held by the gate: qa/acc (not compared)", setup=logs([])),
    Case(
        "gate: every sample errored",
        GATE,
        3,
        "not compared",
        setup=logs([Epoch(f"s{i}", 1, error="x") for i in range(30)]),
    ),
    Case("gate: no sample id in common", GATE, 3, "not compared", setup=logs(_good(prefix="x"))),
    Case("gate: one paired sample", GATE, 3, "not compared", setup=logs(_good(1))),
    Case("gate: the candidate lacks the task", GATE, 3, "held by the gate", setup=logs(_good(), cand_task="other")),
    Case(
        "gate: text scores only",
        GATE,
        3,
        "not compared",
        setup=logs([Epoch(f"s{i}", 1, {"acc": "free text"}) for i in range(30)]),
    ),
    Case("compare --task neither has", (*COMPARE, "--task", "nope"), 2, "neither version", setup=logs(_good())),
    # -- Inspect logs as they are read -----------------------------------------------------
    *(
        Case(f"log {how.split(':')[0]} ({len(how)})", COMPARE, 2, "cannot be read", setup=corrupt_log(how))
        for how in (
            "truncated",
            "random",
            "empty",
            "text",
            "header.json:{junk",
            "header.json:[]",
            "header.json:{}",
            f"header.json:{DEEP}",
            "summaries.json:{junk",
            'summaries.json:[{"epoch": 1}]',
            "summaries.json:{}",
            'summaries.json:[{"id": [1], "epoch": 1}]',
            'summaries.json:[{"id": "a", "epoch": "x"}]',
            f"summaries.json:{DEEP}",
            'summaries.json:[{"id": "a", "scores": [1, 2]}]',
        )
    ),
    *(
        Case(
            f"report on a {how} log", ("report", "c", "--log-dir", "logs"), 2, "cannot be read", setup=corrupt_log(how)
        )
        for how in ("truncated", "random", "header.json:{junk")
    ),
    Case(
        "--cluster on list metadata",
        (*COMPARE, "--cluster", "topic"),
        2,
        "--cluster needs a text or number",
        setup=logs(_good(), topic=["a", "b"]),
    ),
    Case(
        "--cluster on dict metadata",
        (*COMPARE, "--cluster", "topic"),
        2,
        "is a dict",
        setup=logs(_good(), topic={"a": 1}),
    ),
    *(
        Case(f"report {name!r}", ("report", name), 2, "collection", setup=None)
        for name in ("..", ".", ".hidden", "a b", "c:d", "x" * 200)
    ),
    # -- registry files -------------------------------------------------------------------
    *(
        Case(
            f"aliases.json {label}",
            ("resolve", "local-registry/c"),
            2,
            "registry repair",
            setup=registry_file("c/aliases.json", table),
        )
        for label, table in (
            ("pointing outside", {"latest": "../../evil"}),
            ("pointing at a path", {"latest": "v0/../../x"}),
            ("naming an absolute path", {"latest": "/etc"}),
            ("with a bad alias", {"../x": "v0", "latest": "v1"}),
            ("a number", {"latest": 3}),
            ("null", None),
            ("nested", {"latest": {"v": "v1"}}),
        )
    ),
    *(
        Case(
            f"manifest.json {label}",
            ("resolve", "local-registry/c:v1"),
            2,
            "damaged",
            setup=registry_file("c/versions/v1/manifest.json", manifest),
        )
        for label, manifest in (
            ("size not a number", {"contents": {"w": {"digest": "a", "size": "abc"}}}),
            ("digest a number", {"contents": {"w": {"digest": 5, "size": 1}}}),
            ("contents a list", {"contents": [1, 2]}),
            ("no contents", {}),
            ("a list", [1]),
            ("an entry a string", {"contents": {"w": "x"}}),
            ("extra a list", {"contents": {"w": {"digest": "a", "extra": [1]}}}),
            ("deep", json.loads("[" * 200 + "]" * 200)),
            ("size negative", {"contents": {"w": {"digest": "a", "size": -5}}}),
            ("not JSON", b"\xff\xfe junk"),
        )
    ),
    *(
        Case(
            f"version.json {label}",
            ("resolve", "local-registry/c:v1"),
            2,
            "damaged",
            setup=registry_file("c/versions/v1/version.json", info),
        )
        for label, info in (
            ("metadata a list", {"metadata": [1]}),
            ("created_at a number", {"created_at": 5}),
            ("a list", [1]),
            ("a string", "x"),
            ("description a dict", {"description": {"a": 1}}),
            ("not JSON", b"{{{"),
        )
    ),
    # -- the watch ledger -----------------------------------------------------------------
    *(
        Case(f"ledger {label}", ("watch", "-c", "plan.yaml", "--once"), 2, "ledger", setup=ledger(sql))
        for label, sql in (
            ("a foreign table", "CREATE TABLE versions (a, b, c);"),
            ("not SQLite", "raw:this is not a database"),
            ("an unknown role", _row(role="judge")),
            ("an unknown state", _row(state="exploded")),
            ("a damaged decision", _row(decision="{not json")),
            ("a decision of another shape", _row(decision='{"outcome": "maybe"}')),
            ("a bad external id", _row(external="kubernetes:7")),
            ("a bad ref", _row(ref="../../etc")),
            ("a bad source", _row(source="nope")),
        )
    ),
    # -- the W&B spool and lockfiles ------------------------------------------------------
    *(
        Case(
            f"lineage.jsonl {label}",
            ("sync",),
            2,
            "lineage.jsonl",
            env={"WANDB_API_KEY": "e0" * 20},
            setup=spool(content),
        )
        for label, content in (
            ("binary", bytes(range(256)) * 4),
            ("latin-1", "caf\xe9\n".encode("latin-1")),
            ("deep", (DEEP + "\n").encode()),
            ("a list record", b"[1, 2]\n"),
            ("a run dir outside", (json.dumps({**RECORD, "run_dir": "/etc"}) + "\n").encode()),
            (
                "a pending file outside",
                (json.dumps({**RECORD, "run_dir": "x", "table_pending": "/etc/passwd"}) + "\n").encode(),
            ),
        )
    ),
    *(
        Case(f"lockfile {label}", ("run", "--locked", "plan.lock"), 2, "lockfile", setup=lockfile(text))
        for label, text in (
            ("deep", "a: " + "[" * 3000 + "]" * 3000),
            ("a list", "[1, 2]"),
            ("binary", "\x00\x01\x02"),
            ("wrong format", "format: 2\nconfig: {}\ncheckpoints: []\ntasks: []\nversions: {}\n"),
            (
                "a bad pin",
                "config: {}\ncheckpoints: [{ref: x, version: v0, digest: d, pinned: 'a/b/c/d'}]\ntasks: []\n"
                "versions: {}\n",
            ),
        )
    ),
    Case("config nested too deeply", ("run", "-c", "plan.yaml"), 2, "nests too deeply", setup=plan("a: " + DEEP)),
    # -- credentials under harmless keys --------------------------------------------------
    *(
        Case(f"credential in {flag} ({kind})", (*RUN, flag, value), 2, "holds what looks like a")
        for flag, value, kind in (
            ("-T", f"note={SK}", "openai"),
            ("-T", f"x={GH}", "github"),
            ("-T", f"x={HF}", "hf"),
            ("-M", f"m={AWS}", "aws"),
            ("-M", f"m={JWT}", "jwt"),
            ("-M", "h=Bearer abcdefghijklmnopqrstuvwxyz", "bearer"),
            ("--model-role", f"grader=mockllm/{HF}", "hf role"),
            ("-T", "k=sk-ant-abcdefghijklmnopqrstuvwx0123", "anthropic"),
        )
    ),
    Case(
        "credential in --metadata",
        ("registry", "add", "src", "--name", "n", "--metadata", f"note={GH}"),
        2,
        "holds what looks like a",
        setup=lambda root: ((root / "src").mkdir(), (root / "src/w").write_text("w")),
    ),
    Case(
        "credential in --description",
        ("registry", "add", "src", "--name", "n", "--description", f"key {SK}"),
        2,
        "holds what looks like a",
        setup=lambda root: ((root / "src").mkdir(), (root / "src/w").write_text("w")),
    ),
    Case(
        "credential in a config tag",
        ("run", "-c", "plan.yaml"),
        2,
        "wandb.tags[0] holds",
        setup=valid_plan(wandb={"tags": [SK]}),
    ),
    Case(
        "credential in wandb.config",
        ("run", "-c", "plan.yaml"),
        2,
        "holds what looks like",
        setup=valid_plan(wandb={"config": {"note": JWT}}),
    ),
    # -- the smaller ones -----------------------------------------------------------------
    Case("an unknown task argument", (*RUN, "-T", "no_such_arg=1"), 2, "takes no argument 'no_such_arg'"),
    Case(
        "a task file with a syntax error, by name",
        ("run", "--checkpoint", "local-registry/c", "--task", "bad.py@named"),
        2,
        "SyntaxError",
        setup=lambda root: (root / "bad.py").write_text("def named(:\n"),
    ),
    Case(
        "an env value hiding a bad YAML value",
        ("run", "-c", "plan.yaml"),
        2,
        "hidden by",
        env={"EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS": "4"},
        setup=valid_plan(store={"workers": "abc"}),
    ),
    Case(
        "watch a collection that does not exist",
        ("watch", "-c", "plan.yaml", "--once"),
        2,
        "not found",
        setup=valid_plan(watch={"collections": ["local-registry/ghost"]}),
    ),
    Case(
        "watch.promote a version name",
        ("watch", "-c", "plan.yaml", "--once"),
        2,
        "watch.promote",
        setup=valid_plan(watch={"collections": ["local-registry/c"], "promote": "v3"}),
    ),
    *(
        Case(
            f"watch --listen {listen!r}",
            ("watch", "-c", "plan.yaml", "--listen", listen),
            2,
            "--listen",
            env={"EVAL_ORCHESTRATOR_WEBHOOK_TOKEN": "t" * 20},
            setup=valid_plan(watch={"collections": ["local-registry/c"]}),
        )
        for listen in ("nohost", "127.0.0.1:0", "127.0.0.1:70000", ":80", "127.0.0.1:x", "no-such-host.invalid:8080")
    ),
]
