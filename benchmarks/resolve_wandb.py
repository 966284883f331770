"""Cold and warm `resolve` of a multi-file W&B artifact, against the SDK's own download, in one run.

Serves the artifact from the loopback W&B-protocol test server (tests/wandb_server.py), so it
runs offline; both sides download from the same server. Prints medians of --repeats runs:

- cold resolve (our store: parallel, MD5-verified, atomic) vs ``Artifact.download(root)``
- warm resolve (nothing transferred)
- bytes on disk after each, against the artifact's size (W&B's download also fills its cache)

    python benchmarks/resolve_wandb.py [--files 8] [--mib 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mib", type=int, default=256, help="total artifact size")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-resolve-"))
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        os.environ[name] = str(work / name.lower())
    from tests.servers.wandb_server import API_KEY, Server

    server = Server().start()
    os.environ.update(WANDB_BASE_URL=server.url, WANDB_API_KEY=API_KEY, WANDB_MODE="online")

    # One large file (half the total) and the rest equal, like weights + shards + small configs.
    total = args.mib * 1024 * 1024
    sizes = [total // 2] + [total // 2 // (args.files - 1)] * (args.files - 1)
    files = {f"shard-{i:02d}.bin": os.urandom(size) for i, size in enumerate(sizes)}
    version = server.state.add_version("team", "proj", "bench", files, ("prod",))
    size = version.size
    print(f"artifact: {len(files)} files, {size / 2**20:.0f} MiB")

    from eval_orchestrator import orchestrate
    from eval_orchestrator.config import build_store_config

    cold, warm, ours_disk, sdk, sdk_disk = [], [], [], [], []
    for i in range(args.repeats):
        store_root = work / f"store-{i}"
        store = build_store_config({"artifact_dir": str(store_root)})
        t0 = time.perf_counter()
        item = orchestrate.resolve("team/proj/bench:prod", store)
        cold.append(time.perf_counter() - t0)
        assert item.bytes_copied == size
        t0 = time.perf_counter()
        again = orchestrate.resolve("team/proj/bench:prod", store)
        warm.append(time.perf_counter() - t0)
        assert again.bytes_copied == 0
        ours_disk.append(disk_bytes(store_root))
        shutil.rmtree(store_root)

        import wandb

        cache = work / "wandb_cache_dir"
        shutil.rmtree(cache, ignore_errors=True)
        t0 = time.perf_counter()
        root = wandb.Api().artifact("team/proj/bench:prod").download(str(work / f"sdk-{i}"))
        sdk.append(time.perf_counter() - t0)
        sdk_disk.append(disk_bytes(Path(root)) + disk_bytes(cache))
        shutil.rmtree(root)

    med = statistics.median

    def rate(seconds: list[float]) -> str:
        runs = [round(x, 2) for x in seconds]
        return f"median {med(seconds):.2f} s  ({size / med(seconds) / 2**20:.0f} MiB/s)  runs {runs}"

    print(f"cold resolve (ours):       {rate(cold)}")
    print(f"Artifact.download (SDK):   {rate(sdk)}")
    print(f"throughput ours / SDK:     {med(sdk) / med(cold):.2f}")
    print(f"warm resolve (ours):       median {med(warm) * 1000:.0f} ms, 0 bytes transferred")
    ours, theirs = med(ours_disk) / size, med(sdk_disk) / size
    print(f"bytes on disk / size:      ours {ours:.2f}, SDK download + its cache {theirs:.2f}")
    print("note: the SDK does not verify digests; ours MD5-checks every file while it streams")
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
