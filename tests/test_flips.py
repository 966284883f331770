"""Per-sample flips: counted on a hand-made pair of real `.eval` logs, in the library, in `compare --json`
and as the side-by-side W&B table of the comparison run (read back from its offline `.wandb` file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval_orchestrator.comparison.compare import CompareOptions, compare
from eval_orchestrator.comparison.flips import flips
from eval_orchestrator.comparison.wandb_log import FLIP_COLUMNS
from tests.eval_logs import Epoch
from tests.test_cli import cli
from tests.test_compare import _log, _register
from tests.wandb_files import read_runs

# Sample i: the baseline's two epochs and the candidate's. 20 samples, passages of 4.
IMPROVED = {"s03": (0, 0, 1, 1), "s07": (0, 0, 1, 0), "s11": (0, 1, 1, 1)}  # +1, +0.5, +0.5
REGRESSED = {"s02": (1, 1, 0, 0), "s05": (1, 0, 0, 0)}  # -1, -0.5


def _scores(sample: str) -> tuple[int, int, int, int]:
    return IMPROVED.get(sample) or REGRESSED.get(sample) or (1, 1, 1, 1)


def _pair(root: Path) -> None:
    digests = _register(root, "tiny", 2)
    samples = [f"s{i:02d}" for i in range(20)]
    sides = {"v0": (0, 1), "v1": (2, 3)}
    for version, digest in zip(("v0", "v1"), digests, strict=True):
        first, second = sides[version]
        epochs = [
            Epoch(s, epoch, {"acc": _scores(s)[index]}, metadata={"passage": f"p{int(s[1:]) // 4}"},
                  input=f"question {s}", answer=f"{version} answer {s}")
            for s in samples
            for epoch, index in ((1, first), (2, second))
        ]  # fmt: skip
        _log(root, "tiny", version, digest, "qa", epochs)


def test_flips_are_counted_after_epoch_averaging_largest_change_first(isolated_env: Path) -> None:
    _pair(isolated_env)
    report = compare("local-registry/tiny:v0", "local-registry/tiny:v1", CompareOptions(cluster="passage"))
    [row] = report.rows
    assert row.flips is not None
    assert row.flips.improved.count == 3 and row.flips.improved.ids == ["s03", "s07", "s11"]
    assert row.flips.regressed.count == 2 and row.flips.regressed.ids == ["s02", "s05"]  # -1 before -0.5
    assert row.flips.unchanged == 15
    assert row.baseline.log and row.baseline.log.endswith("qa.eval")


def test_flip_ids_are_capped_and_the_count_stays_exact() -> None:
    ids = [f"s{i}" for i in range(10)]
    capped = flips(ids, [0.0] * 10, [0.1 * i for i in range(10)], cap=3)
    assert capped.improved.count == 9 and capped.improved.ids == ["s9", "s8", "s7"]
    assert capped.regressed.count == 0 and capped.unchanged == 1
    assert flips(["a"], [0.3], [0.3 + 1e-15]).unchanged == 1  # float noise is not a flip


def test_flips_in_compare_json_and_the_wandb_table(isolated_env: Path) -> None:
    _pair(isolated_env)
    done = cli("compare", "local-registry/tiny:v0", "local-registry/tiny:v1", "--cluster", "passage", "--json",
               "--wandb-mode", "offline", "--wandb-project", "evals")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    [row] = json.loads(done.stdout)
    assert row["flips"] == {
        "improved": {"count": 3, "ids": ["s03", "s07", "s11"]},
        "regressed": {"count": 2, "ids": ["s02", "s05"]},
        "unchanged": 15,
    }
    [run] = [r for r in read_runs(isolated_env / "wb") if r.job_type == "compare"]
    assert run.summary["regressed/qa/acc"] == 2 and run.summary["improved/qa/acc"] == 3
    [entry] = [e for e in run.history if "flips/path" in e]
    table = json.loads((run.path.parent / "files" / entry["flips/path"]).read_text())
    assert table["columns"] == list(FLIP_COLUMNS)
    rows = [dict(zip(FLIP_COLUMNS, values, strict=True)) for values in table["data"]]
    assert [(r["direction"], r["sample_id"]) for r in rows] == [
        ("regressed", "s02"), ("regressed", "s05"), ("improved", "s03"), ("improved", "s07"), ("improved", "s11"),
    ]  # fmt: skip
    first = rows[0]
    assert (first["input"], first["target"], first["cluster"]) == ("question s02", "answer", "p0")
    assert (first["baseline_answer"], first["candidate_answer"]) == ("v0 answer s02", "v1 answer s02")
    assert (first["baseline_score"], first["candidate_score"]) == (1.0, 0.0)
    assert rows[3]["baseline_score"] == pytest.approx(0.0) and rows[3]["candidate_score"] == pytest.approx(0.5)
