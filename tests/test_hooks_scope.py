"""Our Inspect hooks are ours alone: a plain `inspect eval` in the same environment neither registers
nor lists them (they would print "hooks enabled: 2" and then do nothing there)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from eval_orchestrator import env

SKILL = Path(__file__).parent / "fixtures" / "skill_tasks.py"


def test_a_plain_inspect_eval_does_not_list_our_hooks(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "INSPECT_REQUIRED_HOOKS"}
    inspect = [sys.executable, "-m", "inspect_ai", "eval", f"{SKILL}@skill", "--model", "mockllm/model",
               "--limit", "1", "--display", "plain", "--log-dir", str(tmp_path / "logs")]  # fmt: skip
    done = subprocess.run(inspect, capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr
    # Inspect lists the enabled hooks ("hooks enabled: 0" where inspect-wandb is installed but off).
    assert not re.search(r"hooks enabled: [1-9]", printed) and "eval_orchestrator" not in printed, printed[:2000]


def test_our_hooks_are_enabled_only_where_an_eval_requires_them() -> None:
    from eval_orchestrator.audit import usage_audit
    from eval_orchestrator.tracking.hook import required_hook_names, tracker

    names = ",".join(required_hook_names())
    assert not tracker().enabled() or "INSPECT_REQUIRED_HOOKS" in os.environ
    with env.scoped({"INSPECT_REQUIRED_HOOKS": names}):
        assert tracker().enabled() and usage_audit().enabled()
    with env.scoped({"INSPECT_REQUIRED_HOOKS": "someone_else/hook"}):
        assert not tracker().enabled() and not usage_audit().enabled()
