"""The append-only JSONL files every spool and ledger uses survive a write torn by a crash."""

from pathlib import Path

from eval_orchestrator.jsonl import append_jsonl, read_jsonl


def test_a_torn_last_line_is_left_out_and_the_next_record_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    assert read_jsonl(path) == []  # not written yet
    append_jsonl(path, {"key": "a"})
    with path.open("a") as fh:
        fh.write('{"key": "tor')  # a process killed mid-append
    assert read_jsonl(path) == [{"key": "a"}]
    with path.open("a") as fh:
        fh.write("\n")
    append_jsonl(path, {"key": "b"})
    assert read_jsonl(path) == [{"key": "a"}, {"key": "b"}]
