"""A full disk, for real: the store on a 2 MiB tmpfs. A download that cannot fit is refused before
a byte is written; one that fills the disk midway (ENOSPC from the kernel) is one line, exit 75,
and its partial download is gone; dead downloads are swept (by lock) to make room; and the next
resolve of a checkpoint that fits works. Skipped where tmpfs cannot be mounted (not root)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import invoke
from tests.test_cli import assert_one_line_error

CLI = [sys.executable, "-m", "eval_orchestrator.cli"]
MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_ARTIFACT_DIR": str(store)}
    return invoke(*args, env=env)


def register(root: Path, name: str, size: int) -> str:
    source = root / f"src-{name}"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(size))
    done = invoke("registry", "add", str(source), "--name", name)
    assert done.returncode == 0, done.stderr
    return f"local-registry/{name}"


def digest(ref: str) -> str:
    import json

    listed = invoke("registry", "ls", ref.split("/")[1], "--json")
    return str(json.loads(listed.stdout)[-1]["digest"])


def test_too_big_is_refused_before_writing(isolated_env: Path, small_disk: Path) -> None:
    store = small_disk / "store"
    big = register(isolated_env, "big", 3 * MIB)
    done = cli("resolve", big, store=store)
    assert_one_line_error(done, "needs 3,145,728 more bytes", code=75)
    assert not list(store.rglob("weights.bin"))


def test_the_disk_filling_midway_is_clean_and_the_next_resolve_works(isolated_env: Path, small_disk: Path) -> None:
    store = small_disk / "store"
    medium = register(isolated_env, "medium", int(1.5 * MIB))
    # A resumed download whose partial file is sparse looks further along than the disk is full:
    # the space check passes, then the kernel says ENOSPC midway through the real bytes.
    partial = store / "checkpoints" / "medium" / f".partial-{digest(medium)}" / "files"
    partial.mkdir(parents=True)
    with (partial / "weights.bin").open("wb") as sparse:
        sparse.truncate(int(1.4 * MIB))
    (small_disk / "ballast").write_bytes(b"x" * MIB)  # half the disk taken by something else
    done = cli("resolve", medium, store=store)
    assert_one_line_error(done, "the disk filled while fetching medium:v0", code=75)
    assert "unfinished download was removed" in done.stderr
    assert not partial.parent.exists()  # the partial does not keep the disk full

    small = register(isolated_env, "small", 200_000)
    ok = cli("resolve", small, store=store)
    assert ok.returncode == 0, ok.stderr


def test_dead_downloads_are_swept_to_make_room(isolated_env: Path, small_disk: Path) -> None:
    store = small_disk / "store"
    dead = store / "checkpoints" / "other" / ".partial-0123456789abcdef0123456789abcdef" / "files"
    dead.mkdir(parents=True)
    (dead / "weights.bin").write_bytes(b"x" * int(1.5 * MIB))  # a download whose process died
    medium = register(isolated_env, "medium", MIB)
    done = cli("resolve", medium, store=store)
    assert done.returncode == 0, done.stderr
    assert not dead.parent.exists()


def test_a_full_disk_under_the_log_dir_is_75_not_a_failed_eval(isolated_env: Path, small_disk: Path) -> None:
    slow = Path(__file__).parent / "fixtures" / "slow_tasks.py"
    register(isolated_env, "tiny", 100)
    (small_disk / "filler").write_bytes(b"\0" * (2 * MIB - 96 * 1024))  # 96 KiB left: the log cannot finish
    done = invoke("run", "--checkpoint", "local-registry/tiny", "--task", f"{slow}@slow", "-T", "count=60",
                  "-T", "delay=0", "--model", "mockllm/model", "--log-dir", str(small_disk / "logs"))  # fmt: skip
    assert done.returncode == 75, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the disk holding the Inspect logs" in errors[0] and "free space" in errors[0]
    assert "Traceback" not in done.stderr
