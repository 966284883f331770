"""Cold fetch of an S3-backed checkpoint against a plain boto3 ``download_file`` loop, in one run.

moto's S3 server runs in its own process on loopback (so neither side shares a GIL with it) and
holds one checkpoint of --files objects, one of them --big-mib, the rest sharing the remainder,
uploaded the way boto3 uploads (multipart, 8 MiB parts). Then, alternating, --repeats times:

- ours: ``registry add s3://...`` once, then a cold ``resolve`` (ranged parallel GETs, every part
  hashed and checked against the ETag, atomic rename)
- baseline: ``client.download_file`` for each object in turn (s3transfer's own threads, default
  TransferConfig: 8 MiB ranges, 10 threads; no content check)
- the same loop with TransferConfig set to our range size and worker count, to tell our engine's
  speed apart from the server's cost per request (moto reads the whole object for every ranged
  GET, so on moto the number of requests dominates)

It prints the medians, our throughput / the baseline's, bytes on disk / checkpoint size after our
fetch, and the warm resolve (in-process and through the CLI) with the bytes it transferred,
counted by a loopback proxy in front of moto.

    python benchmarks/fetch_s3.py [--files 8] [--total-mib 1100] [--big-mib 560] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MiB = 1024 * 1024
BUCKET = "bench-bucket"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def disk_bytes(root: Path) -> int:
    """Allocated bytes of every file under root (what the disk actually holds)."""
    return sum(p.stat().st_blocks * 512 for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = (
        "import logging, time; logging.getLogger('werkzeug').setLevel(logging.ERROR);"
        "from moto.server import ThreadedMotoServer;"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start();"
        "time.sleep(10**6)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--total-mib", type=int, default=1100)
    parser.add_argument("--big-mib", type=int, default=560)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="our transfer workers (default: config)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    moto, moto_url = start_moto()
    try:
        run(args, work, moto_url)
    finally:
        moto.terminate()
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, moto_url: str) -> None:
    import boto3

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=moto_url,
        AWS_EC2_METADATA_DISABLED="true",
        EVAL_ORCHESTRATOR_REGISTRY=str(work / "registry"),
    )
    if args.workers:
        os.environ["EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS"] = str(args.workers)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    rest = (args.total_mib - args.big_mib) // (args.files - 1)
    sizes = [args.big_mib * MiB] + [rest * MiB + 4097 * i for i in range(args.files - 1)]
    source = work / "source"
    source.mkdir()
    for i, size in enumerate(sizes):
        path = source / f"shard-{i:02d}.bin"
        with path.open("wb") as fh:
            for _ in range(size // MiB):
                fh.write(os.urandom(MiB))
            fh.write(os.urandom(size % MiB))
        client.upload_file(str(path), BUCKET, f"ckpt/{path.name}")  # boto3's default: multipart, 8 MiB parts
        path.unlink()
    total = sum(sizes)
    print(
        f"checkpoint: {len(sizes)} objects, {total / MiB:.0f} MiB (largest {sizes[0] / MiB:.0f} MiB), moto on loopback"
    )

    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_store_config
    from eval_orchestrator.registry.factory import local_registry

    local_registry().add(f"s3://{BUCKET}/ckpt", "bench")
    keys = [f"ckpt/shard-{i:02d}.bin" for i in range(len(sizes))]

    from boto3.s3.transfer import TransferConfig

    settings = build_store_config()
    tuned_config = TransferConfig(multipart_chunksize=settings.part_size_mb * MiB, max_concurrency=settings.workers)
    ours, base, tuned, ratio_disk = [], [], [], []
    for i in range(args.repeats):
        store_root = work / f"store-{i}"
        store = build_store_config({"artifact_dir": str(store_root)})
        started = time.perf_counter()
        item = orchestrate.resolve("local-registry/bench:latest", store)
        ours.append(time.perf_counter() - started)
        assert item.bytes_copied == total
        ratio_disk.append(disk_bytes(store_root) / total)
        shutil.rmtree(store_root)

        target = work / f"baseline-{i}"
        target.mkdir()
        started = time.perf_counter()
        for key in keys:
            client.download_file(BUCKET, key, str(target / Path(key).name))
        base.append(time.perf_counter() - started)
        shutil.rmtree(target)

        target.mkdir()
        started = time.perf_counter()
        for key in keys:
            client.download_file(BUCKET, key, str(target / Path(key).name), Config=tuned_config)
        tuned.append(time.perf_counter() - started)
        shutil.rmtree(target)
        print(
            f"  run {i + 1}: ours {total / MiB / ours[-1]:.0f} MiB/s, download_file loop "
            f"{total / MiB / base[-1]:.0f} MiB/s, same loop with our range size {total / MiB / tuned[-1]:.0f} MiB/s"
        )

    ours_tp, base_tp = total / MiB / statistics.median(ours), total / MiB / statistics.median(base)
    print(
        f"cold fetch, median of {args.repeats}: ours {ours_tp:.0f} MiB/s ({statistics.median(ours):.2f} s), "
        f"boto3 download_file loop {base_tp:.0f} MiB/s ({statistics.median(base):.2f} s)"
    )
    tuned_tp = total / MiB / statistics.median(tuned)
    print(f"throughput ratio ours/baseline: {ours_tp / base_tp:.2f} (target >= 1.0)")
    print(
        f"throughput ratio ours/download_file with {settings.part_size_mb} MiB ranges and "
        f"{settings.workers} threads: {ours_tp / tuned_tp:.2f} ({tuned_tp:.0f} MiB/s)"
    )
    print(f"bytes on disk / checkpoint size after our fetch: {statistics.median(ratio_disk):.4f} (target 1.00)")
    warm(work, total)


def warm(work: Path, total: int) -> None:
    """A kept copy, then warm resolves through a counting proxy: time and bytes transferred."""
    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_store_config
    from tests.servers.s3_server import FaultProxy

    store = build_store_config({"artifact_dir": str(work / "store-warm")})
    orchestrate.resolve("local-registry/bench:latest", store)
    proxy = FaultProxy(os.environ["AWS_ENDPOINT_URL"]).start()
    os.environ["AWS_ENDPOINT_URL"] = proxy.url
    times = []
    for _ in range(5):
        started = time.perf_counter()
        item = orchestrate.resolve("local-registry/bench:latest", store)
        times.append(time.perf_counter() - started)
        assert item.bytes_copied == 0
    env = dict(os.environ, WANDB_ARTIFACT_DIR=str(work / "store-warm"))
    cli = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "eval_orchestrator.cli", "resolve", "local-registry/bench:latest"],
            env=env,
            check=True,
            capture_output=True,
        )
        cli.append(time.perf_counter() - started)
    print(
        f"warm resolve: {statistics.median(times) * 1000:.1f} ms in-process (median of 5), "
        f"{statistics.median(cli):.2f} s through the CLI incl. Python start-up (median of 3); "
        f"bytes transferred: {proxy.body_bytes()} (requests: {len(proxy.requests)})"
    )
    proxy.stop()
    assert total > 0


if __name__ == "__main__":
    main()
