"""The typed contracts between the parts: what they carry survives a round trip, and what another
version wrote is a one-line error, not a KeyError days later in `sync`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from eval_orchestrator.errors import SpoolError
from eval_orchestrator.job import METADATA_KEY, EvalMetadata, Job, TrackingSettings
from eval_orchestrator.spool import LineageRecord, ResultsFiles, Spool, append_history, read_history
from tests.cli import invoke

JOB = Job(
    collection="tiny",
    version="v1",
    digest="0123456789abcdef0123456789abcdef",
    ref="local-registry/tiny:v1",
    requested_ref="local-registry/tiny:latest",
    aliases=("latest", "prod"),
    task_spec="tasks/qa.py@qa",
    task_name="qa",
    task_args={"digits": 2, "language": "en"},
    language="en",
    registry_metadata={"step": 1000},
)
SETTINGS = TrackingSettings(project="evals", mode="offline", dir="/tmp/wb", tags=("nightly",))


def test_job_key_is_the_one_w_and_b_run_ids_were_derived_from() -> None:
    # Run ids derive from job keys; a changed formula would start new W&B runs for old jobs.
    ident = json.dumps(
        ["tiny", "v1", JOB.digest, "qa", {"digits": 2, "language": "en"}], sort_keys=True, separators=(",", ":")
    )
    assert JOB.key == hashlib.sha256(ident.encode()).hexdigest()[:16]
    assert JOB.model_copy(update={"aliases": ("other",)}).key == JOB.key  # aliases move; the job does not


def test_eval_metadata_round_trips_through_inspect_metadata() -> None:
    meta = EvalMetadata(job=JOB, tracking=SETTINGS, log_dir="/tmp/logs/tiny/v1-0123")
    carried = json.loads(json.dumps({"other": 1, METADATA_KEY: meta.to_inspect()}))  # as an .eval log holds it
    assert carried[METADATA_KEY]["job"]["key"] == JOB.key  # readers of the log see the key
    back = EvalMetadata.from_inspect(carried)
    assert back == meta
    assert back is not None and back.job.key == JOB.key


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {"other": 1}, {METADATA_KEY: "x"}, {METADATA_KEY: {"job": {"key": "k"}, "wandb": {}}}],
)
def test_metadata_that_is_not_ours_is_ignored(metadata: dict[str, object] | None) -> None:
    assert EvalMetadata.from_inspect(metadata) is None


def _record(**changes: object) -> LineageRecord:
    base = LineageRecord(
        job_key=JOB.key,
        attempt="abc123",
        run_id="r" * 20,
        local_run_id="r" * 20,
        run_dir="/tmp/wb/wandb/offline-run-1",
        mode="online",
        project="evals",
        model_ref=JOB.ref,
        model_digest=JOB.digest,
        status="success",
        results_pending=ResultsFiles(log="a.eval", summary="s.json", usage="u.jsonl", metrics={"acc": 0.5}),
        job=JOB,
        summary_pending={"acc": 0.5, "status": "success"},
    )
    return base.model_copy(update=changes)


def test_a_spool_record_round_trips(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    run_dir = str(tmp_path / "wandb" / "offline-run-1")  # a record's run folder lies under the W&B dir
    first, second = _record(run_dir=run_dir), _record(attempt="def456", upload_pending=True, run_dir=run_dir)
    spool.record(first)
    spool.record(second)
    assert spool.records() == [first, second]
    assert spool.lineage_file == tmp_path / "wandb" / "eval-orchestrator" / "lineage.jsonl"
    rows = spool.pending_file("r" * 20, "abc123", "history.jsonl")
    append_history(rows, 3, {"samples_completed": 1})
    assert [(r.step, r.row) for r in read_history(rows)] == [(3, {"samples_completed": 1})]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r.pop("run_id"), "run_id: Field required"),  # a key this version needs
        (lambda r: r.update(runid=r.pop("run_id")), "run_id: Field required"),  # a renamed key
        (lambda r: r.update(format=2), "format: Input should be 1"),  # a newer spool format
        (lambda r: r.update(mode="sometimes"), "mode: Input should be"),
    ],
)
def test_a_record_from_another_version_is_one_line_naming_the_file(tmp_path: Path, change, named) -> None:  # type: ignore[no-untyped-def]
    spool = Spool(tmp_path)
    spool.record(_record())
    raw = json.loads(spool.lineage_file.read_text())
    change(raw)
    spool.lineage_file.write_text(json.dumps(raw) + "\n")
    with pytest.raises(SpoolError) as info:
        spool.records()
    message = str(info.value)
    assert "\n" not in message
    assert str(spool.lineage_file) in message and named in message
    assert "move it aside" in message


def test_sync_on_a_malformed_spool_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path / "wbdir")
    spool.root.mkdir(parents=True)
    spool.lineage_file.write_text(json.dumps({"job_key": "k", "mode": "offline"}) + "\n")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    done = invoke("sync", "--wandb-dir", str(tmp_path / "wbdir"))
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "lineage.jsonl" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_sync_finds_the_spool_through_the_run_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sync --config run.yaml` reads the same wandb.dir as `run --config run.yaml`."""
    monkeypatch.delenv("WANDB_DIR")
    wandb_dir = tmp_path / "from-yaml"
    config = tmp_path / "run.yaml"
    config.write_text(f"checkpoints: [local-registry/tiny:v0]\ntasks: [t.py@t]\nwandb: {{dir: {wandb_dir}}}\n")
    spool = Spool(wandb_dir)
    spool.root.mkdir(parents=True)
    spool.lineage_file.write_text("{}\n")
    done = invoke("sync", "--config", str(config))
    # It found the spool named by the YAML (and refused its record), not "nothing to sync" under '.'.
    assert done.returncode == 2 and str(spool.lineage_file) in done.stderr, done.stderr


def test_the_options_passed_to_eval_set_are_its_parameters() -> None:
    import inspect

    from inspect_ai import eval_set

    from eval_orchestrator.run_config import InspectOptions

    parameters = set(inspect.signature(eval_set).parameters)
    assert set(InspectOptions.PASSED_TO_EVAL_SET) <= parameters
    assert set(InspectOptions().eval_set_args()) <= parameters


def test_job_keys_run_ids_and_plan_keys_are_what_they_always_were() -> None:
    """Recomputed here from their formulas, independently of the code: a refactor that changed one
    would send every re-run to a new W&B run, re-run finished evals, and re-evaluate watched versions."""
    import hashlib
    import json as json_module

    from eval_orchestrator.config import build_config
    from eval_orchestrator.job import Job
    from eval_orchestrator.plan import plan_identity
    from eval_orchestrator.tracking.rows import run_id

    def canonical(value: object) -> str:
        return json_module.dumps(value, sort_keys=True, separators=(",", ":"), default=str)

    job = Job.model_validate(
        {"collection": "tiny", "version": "v1", "digest": "d" * 32, "ref": "local-registry/tiny:v1",
         "requested_ref": "local-registry/tiny:latest", "task_spec": "t.py@t", "task_name": "t",
         "task_args": {"n": 2}}
    )  # fmt: skip
    expected = hashlib.sha256(canonical(["tiny", "v1", "d" * 32, "t", {"n": 2}]).encode()).hexdigest()[:16]
    assert job.key == expected
    assert run_id(job.key) == hashlib.sha256(expected.encode()).hexdigest()[:20]
    assert str(job.ref) == "local-registry/tiny:v1" and job.model_dump(mode="json")["ref"] == "local-registry/tiny:v1"

    config = build_config(base={"checkpoints": ["local-registry/tiny"], "tasks": ["t.py@t"]})
    inspect = config.inspect.model_dump(exclude={"log_dir", "display"})
    tree = config.model_dump(include={"tasks", "model", "hooks"})
    assert plan_identity(config).key == hashlib.sha256(canonical([tree, inspect]).encode()).hexdigest()[:16]
    assert plan_identity(config).folder == ""  # a default plan keeps its logs where they always were


def test_a_record_naming_a_folder_outside_the_w_and_b_dir_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.record(_record(run_dir="/etc"))  # sync would upload what it names
    with pytest.raises(SpoolError, match="outside"):
        spool.records()
