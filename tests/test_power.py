"""`power`: the samples a paired comparison needs, from a baseline's (and a candidate's) real logs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.eval_logs import Epoch, write_log
from tests.test_cli import assert_one_line_error, cli
from tests.test_compare import _register

Z = 1.959964 + 0.841621  # two-sided 0.05, 80% power


def _logs(root: Path, digest: str, version: str, scores: list[float], dataset: int | None = None) -> None:
    epochs = [Epoch(f"s{i}", 1, {"acc": s}, None, {"passage": f"p{i // 10}"}) for i, s in enumerate(scores)]
    write_log(root / "logs" / "tiny" / f"{version}-{digest[:12]}" / "qa.eval", "qa", epochs, dataset=dataset)


def test_power_from_the_baseline_alone_and_from_paired_differences(isolated_env: Path) -> None:
    base_digest, cand_digest = _register(isolated_env, "tiny", 2)
    baseline = [float(i % 2) for i in range(100)]
    candidate = [1.0 if i % 10 == 0 else b for i, b in enumerate(baseline)]  # 10 flips up, none down
    _logs(isolated_env, base_digest, "v0", baseline, dataset=500)
    _logs(isolated_env, cand_digest, "v1", candidate)
    alone = cli("power", "--baseline", "local-registry/tiny:v0", "--mde", "0.1", "--json")
    assert alone.returncode == 0, alone.stderr
    [row] = json.loads(alone.stdout)
    sd = math.sqrt(2) * float(np.std(baseline, ddof=1))
    assert row["sd"] == pytest.approx(sd)
    assert row["needed"] == math.ceil((Z * sd / 0.1) ** 2) and row["dataset"] == 500 and row["enough"]
    assert row["mde_at_full"] == pytest.approx(Z * sd / math.sqrt(500), rel=1e-4)
    paired = cli("power", "--baseline", "local-registry/tiny:v0", "--candidate", "local-registry/tiny:v1",
                 "--mde", "0.1", "--json")  # fmt: skip
    [row] = json.loads(paired.stdout)
    d = np.array(candidate) - np.array(baseline)
    assert row["sd"] == pytest.approx(float(d.std(ddof=1))) and row["source"] == "100 paired differences"
    assert row["needed"] < 100  # versions that agree on 90% of samples need far fewer than sqrt(2) x sd says
    clustered = cli("power", "--baseline", "local-registry/tiny:v0", "--mde", "0.01", "--cluster", "passage")
    assert clustered.returncode == 0 and "design effect" in clustered.stdout
    assert "sd from sqrt(2) x the sd of v0's 100 scores" in clustered.stdout


def test_power_refuses_what_it_cannot_compute(isolated_env: Path) -> None:
    _register(isolated_env, "tiny", 1)
    done = cli("power", "--baseline", "local-registry/tiny:v0", "--mde", "0.1")
    assert_one_line_error(done, "no Inspect logs for local-registry/tiny:v0")
    assert_one_line_error(cli("power", "--baseline", "local-registry/tiny:v0", "--mde", "-1"), "--mde -1 must be")
