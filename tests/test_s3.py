"""S3 reference checkpoints against moto's S3 server on loopback, through the fault proxy."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eval_orchestrator import orchestrate
from eval_orchestrator.errors import UserError, VerificationFailed
from eval_orchestrator.registry.factory import local_registry
from tests.servers.s3_server import FaultProxy
from tests.test_cli import assert_one_line_error, cli
from tests.trees import read_tree

MiB = 1024 * 1024
BUCKET = "ckpt-bucket"


def put_multipart(client: Any, key: str, data: bytes, bucket: str = BUCKET, part: int = 5 * MiB) -> None:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part)
    client.upload_fileobj(io.BytesIO(data), bucket, key, Config=config)


def seed(s3: FaultProxy, prefix: str = "run1", versioned: bool = False) -> dict[str, bytes]:
    """A checkpoint of three objects: a 13 MiB multipart upload (5 MiB parts), an 11 MiB
    single-part object and a small nested file."""
    client = s3.client  # type: ignore[attr-defined]
    client.create_bucket(Bucket=BUCKET)
    if versioned:
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    files = {
        "model.bin": os.urandom(13 * MiB),
        "shards/a.bin": os.urandom(11 * MiB),
        "tokenizer.json": b'{"vocab": {"a": 1}}',
    }
    put_multipart(client, f"{prefix}/model.bin", files["model.bin"])
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/shards/a.bin", Body=files["shards/a.bin"])
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/tokenizer.json", Body=files["tokenizer.json"])
    return files


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAL_ORCHESTRATOR_PART_SIZE_MB", "5")  # several ranges per test object


def register(uri: str = f"s3://{BUCKET}/run1", name: str = "llm") -> Any:
    return local_registry().add(uri, name)


def stamp_of(item: Any) -> dict[str, Any]:
    return json.loads((item.path.parent / "stamp.json").read_text())


def test_registered_reference_resolves_exactly_in_parallel_ranges(s3: FaultProxy) -> None:
    files = seed(s3)
    resolved = register()
    model = resolved.manifest.entries["model.bin"]
    head = s3.client.head_object(Bucket=BUCKET, Key="run1/model.bin")  # type: ignore[attr-defined]
    assert model.digest == head["ETag"].strip('"') and model.digest.endswith("-3")
    assert model.ref == f"s3://{BUCKET}/run1/model.bin" and model.size == 13 * MiB

    item = orchestrate.resolve("local-registry/llm:latest")
    assert read_tree(item.path) == files
    assert item.bytes_copied == sum(map(len, files.values()))
    checks = stamp_of(item)["checks"]
    assert checks["model.bin"] == {"kind": "multipart", "expected": model.digest, "part_size": 5 * MiB}
    assert checks["shards/a.bin"]["kind"] == "etag"
    # Large objects came down as ranged requests, one per 5 MiB part.
    assert sorted(r.range for r in s3.gets("model.bin")) == [
        "bytes=0-5242879",
        "bytes=10485760-13631487",
        "bytes=5242880-10485759",
    ]
    assert len(s3.gets("shards/a.bin")) == 3

    gets = len(s3.gets())
    warm = orchestrate.resolve("local-registry/llm:latest")
    assert warm.path == item.path and warm.bytes_copied == 0 and len(s3.gets()) == gets


def test_manifest_digest_matches_what_the_wandb_sdk_records(s3: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    seed(s3)
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", s3.url)  # the variable W&B's S3 handler reads
    artifact = wandb.Artifact("llm", "model")
    artifact.add_reference(f"s3://{BUCKET}/run1")
    ours = register()
    theirs = {e.path: (e.digest, e.size, e.ref) for e in artifact.manifest.entries.values()}
    assert theirs == {p: (e.digest, e.size, e.ref) for p, e in ours.manifest.entries.items()}
    assert artifact.manifest.digest() == ours.digest


def test_versioned_bucket_serves_the_registered_version_after_an_overwrite(s3: FaultProxy) -> None:
    files = seed(s3, versioned=True)
    resolved = register()
    assert all(e.extra.get("versionID") for e in resolved.manifest.entries.values())
    s3.client.put_object(Bucket=BUCKET, Key="run1/shards/a.bin", Body=b"retrained")  # type: ignore[attr-defined]
    item = orchestrate.resolve("local-registry/llm:latest")
    assert read_tree(item.path) == files  # the registered bytes, not the new object


def test_overwritten_object_is_refused_naming_what_changed(s3: FaultProxy, isolated_env: Path) -> None:
    seed(s3)
    register()
    s3.client.put_object(Bucket=BUCKET, Key="run1/shards/a.bin", Body=b"retrained")  # type: ignore[attr-defined]
    with pytest.raises(VerificationFailed) as info:
        orchestrate.resolve("local-registry/llm:latest")
    message = str(info.value)
    assert "s3://ckpt-bucket/run1/shards/a.bin (file 'shards/a.bin' of llm:v0) was overwritten" in message
    assert "ETag is now" in message and "9 bytes (registered 11534336)" in message
    assert not list((isolated_env / "store/checkpoints/llm").iterdir())  # nothing used, nothing left


def test_deleted_object_is_refused(s3: FaultProxy) -> None:
    seed(s3)
    register()
    s3.client.delete_object(Bucket=BUCKET, Key="run1/tokenizer.json")  # type: ignore[attr-defined]
    with pytest.raises(
        VerificationFailed, match=r"run1/tokenizer.json \(file 'tokenizer.json' of llm:v0\) no longer exists"
    ):
        orchestrate.resolve("local-registry/llm:latest")


@pytest.mark.parametrize("key", ["model.bin", "shards/a.bin"])
def test_bytes_corrupted_in_transit_are_refused(s3: FaultProxy, isolated_env: Path, key: str) -> None:
    # Multipart (proven by part hashes) and single-part fetched in ranges (read back once).
    seed(s3)
    register()
    s3.faults.corrupt_first, s3.faults.corrupt_match = 1, key
    with pytest.raises(VerificationFailed, match=rf"'{key}' of llm:v0 does not match its manifest digest"):
        orchestrate.resolve("local-registry/llm:latest")
    assert not list((isolated_env / "store/checkpoints/llm").iterdir())


def test_corruption_caught_by_the_s3_checksum_refetches_the_range(s3: FaultProxy) -> None:
    # A whole-object GET carries S3's own checksum (botocore checks it): that range is fetched again.
    files = seed(s3)
    register()
    s3.faults.corrupt_first, s3.faults.corrupt_match = 1, "tokenizer.json"
    item = orchestrate.resolve("local-registry/llm:latest")
    assert read_tree(item.path) == files
    assert len(s3.gets("tokenizer.json")) == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"fail_first": 5, "fail_status": 500},
        {"fail_first": 5, "fail_status": 503},
        {"drop_first": 3, "drop_after": 1 * MiB},
    ],
    ids=["http-500", "throttled-503", "dropped-connections"],
)
def test_transient_faults_are_retried(s3: FaultProxy, fault: dict[str, int]) -> None:
    files = seed(s3)
    register()
    for name, value in fault.items():
        setattr(s3.faults, name, value)
    item = orchestrate.resolve("local-registry/llm:latest")
    assert read_tree(item.path) == files
    if "drop_first" in fault:
        # A dropped range continues at the byte it stopped at: nothing is fetched twice.
        starts = [int(str(r.range).split("=")[1].split("-")[0]) for r in s3.gets("/run1/")]
        resumed = [start for start in starts if start % (5 * MiB)]
        assert len(resumed) == 3 and all(start % (5 * MiB) == MiB for start in resumed), starts
        assert s3.body_bytes("/run1/") == sum(map(len, files.values()))
    else:
        assert [r.status for r in s3.requests].count(fault["fail_status"]) == fault["fail_first"]


def test_server_restarted_mid_download(s3: FaultProxy) -> None:
    files = seed(s3)
    register()
    s3.faults.chunk_delay = 0.01  # about 6 MiB/s per range: the download takes a few seconds
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(orchestrate.resolve("local-registry/llm:latest")))
    worker.start()
    deadline = time.monotonic() + 30
    while s3.body_bytes() < 2 * MiB:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    s3.restart_after(2.0)  # refused connections for two seconds, then the same port again
    worker.join(timeout=120)
    assert result, "the download did not survive the restart"
    assert read_tree(result[0].path) == files


def _resolve_proc(ref: str = "local-registry/llm:latest") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "eval_orchestrator.cli", "resolve", ref, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_download_resumes_without_fetching_verified_ranges_again(s3: FaultProxy, isolated_env: Path) -> None:
    files = seed(s3)
    resolved = register()
    s3.faults.chunk_delay = 0.02
    proc = _resolve_proc()
    journal = isolated_env / "store/checkpoints/llm" / f".partial-{resolved.digest}" / "journal.jsonl"
    deadline = time.monotonic() + 60
    while not (journal.exists() and journal.read_text().count("md5s") >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no cleanup of any kind
    proc.wait()
    assert not (isolated_env / "store/checkpoints/llm" / resolved.digest).exists()  # nothing half-written visible
    done = [json.loads(line) for line in journal.read_text().splitlines() if "md5s" in line]
    before = len(s3.gets())

    s3.faults.chunk_delay = 0
    again = _resolve_proc()
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    info = json.loads(out)
    assert read_tree(Path(info["path"])) == files
    refetched = {(r.path, r.range) for r in s3.gets()[before:]}
    for fact in done:
        wanted = f"bytes={fact['start']}-{fact['end'] - 1}"
        assert not any(path.endswith(fact["path"]) and rng == wanted for path, rng in refetched), fact
    assert info["bytes_copied"] <= info["bytes"] - sum(f["end"] - f["start"] for f in done)


def test_four_concurrent_resolvers_download_once(s3: FaultProxy) -> None:
    files = seed(s3)
    register()
    s3.faults.chunk_delay = 0.002
    procs = [_resolve_proc() for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    infos = [json.loads(out) for out, _ in outs]
    assert len({i["path"] for i in infos}) == 1
    assert sorted(i["bytes_copied"] > 0 for i in infos) == [False, False, False, True]
    assert s3.body_bytes("/run1/") == sum(map(len, files.values()))  # one download, no byte twice
    assert read_tree(Path(infos[0]["path"])) == files


def test_missing_credentials_and_bad_endpoint_are_one_line_errors(
    s3: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(s3)
    register()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert_one_line_error(cli("resolve", "local-registry/llm:latest"), "no AWS credentials to read s3://ckpt-bucket/")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "127.0.0.1:9000")
    assert_one_line_error(cli("resolve", "local-registry/llm:latest"), "AWS_ENDPOINT_URL='127.0.0.1:9000' is not a URL")
    with pytest.raises(UserError, match="no objects under s3://ckpt-bucket/nothing"):
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        register(f"s3://{BUCKET}/nothing")


def test_aws_settings_are_not_read_without_s3_entries(checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local_registry().add(checkpoint_dir, "plain")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")  # would fail if anything built an S3 client
    item = orchestrate.resolve("local-registry/plain:latest")
    assert read_tree(item.path) == read_tree(checkpoint_dir)


def test_registry_add_s3_through_the_cli(s3: FaultProxy) -> None:
    seed(s3)
    added = cli("registry", "add", f"s3://{BUCKET}/run1", "--name", "llm", "--alias", "prod")
    assert added.returncode == 0, added.stderr
    assert "added local-registry/llm:v0 (3 files" in added.stdout
    info = json.loads(cli("resolve", "local-registry/llm:prod", "--json").stdout)
    assert info["bytes_copied"] == info["bytes"] == 24 * MiB + 19


def test_wandb_reference_artifact_to_s3_resolves_through_our_engine(
    s3: FaultProxy, wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logged by the real SDK with add_reference (so the manifest is what W&B records), then
    resolved through the W&B backend: the bytes come from S3, in ranges, checked against ETags."""
    import wandb

    files = seed(s3, versioned=True)
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", s3.url)  # the SDK's S3 handler reads this one
    settings = wandb.Settings(
        silent=True, console="off", x_disable_stats=True, x_disable_meta=True, base_url=os.environ["WANDB_BASE_URL"]
    )
    run = wandb.init(entity="team", project="proj", mode="online", reinit="create_new", settings=settings)
    with run:
        artifact = wandb.Artifact("llm", type="model")
        artifact.add_reference(f"s3://{BUCKET}/run1")
        run.log_artifact(artifact, aliases=["prod"]).wait()
    s3.client.put_object(Bucket=BUCKET, Key="run1/model.bin", Body=b"newer")  # type: ignore[attr-defined]

    item = orchestrate.resolve("team/proj/llm:prod")
    assert read_tree(item.path) == files  # the recorded versionIDs, not the overwritten object
    assert stamp_of(item)["checks"]["model.bin"]["kind"] == "multipart"
    assert len(s3.gets("model.bin")) == 3 and not wandb_server.state.file_gets


def test_endpoint_variables_precedence_and_scheme() -> None:
    from eval_orchestrator.s3_objects import endpoint_url

    assert endpoint_url({}) is None  # AWS itself
    generic = {"AWS_ENDPOINT_URL": "http://generic:1"}
    assert endpoint_url(generic) == "http://generic:1"
    assert endpoint_url({**generic, "AWS_S3_ENDPOINT_URL": "https://wandb-style:2"}) == "https://wandb-style:2"
    both = {**generic, "AWS_S3_ENDPOINT_URL": "http://b:2", "AWS_ENDPOINT_URL_S3": "http://s3-specific:3"}
    assert endpoint_url(both) == "http://s3-specific:3"
    with pytest.raises(UserError, match=r"AWS_S3_ENDPOINT_URL='minio:9000' is not a URL.*http://minio:9000"):
        endpoint_url({"AWS_S3_ENDPOINT_URL": "minio:9000"})


def test_journal_ignores_a_line_torn_by_a_crash(tmp_path: Path) -> None:
    from eval_orchestrator.store.journal import JOURNAL, Journal

    journal = Journal(tmp_path)
    journal.record_range("a.bin", 0, 10, ["00" * 16])
    journal.record_file("b.bin", 5, 123, None)
    journal.close()
    with (tmp_path / JOURNAL).open("a") as fh:
        fh.write('{"path": "a.bin", "start": 10, "end": 2')  # killed mid-write
    again = Journal(tmp_path)
    assert again.range_md5s("a.bin", 0, 10) == ["00" * 16]
    assert again.range_md5s("a.bin", 10, 20) is None
    assert again.finished_file("b.bin") == {"path": "b.bin", "size": 5, "mtime_ns": 123, "local_md5": None}
    again.forget("b.bin")
    again.close()
    assert Journal(tmp_path).finished_file("b.bin") is None


def test_unreachable_endpoint_is_a_one_line_error(s3: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(s3)
    register()
    s3.stop()  # connections refused from now on
    monkeypatch.setenv("EVAL_ORCHESTRATOR_DOWNLOAD_RETRIES", "2")
    assert_one_line_error(
        cli("resolve", "local-registry/llm:latest"),
        "after 2 attempts: Could not connect to the endpoint URL",
        code=75,  # retries ran out: retry later
    )
