"""Overhead of our Inspect hooks (W&B tracker + usage audit) on a 1,000-sample mockllm eval.

The same eval, through the same ``orchestrate.run`` (W&B offline, so no network), alternately
with our hooks enabled and with them disabled (``enabled()`` returning False, so Inspect skips
them entirely), --repeats times each. Prints the medians, the overhead in percent and per sample.

    python benchmarks/hook_overhead.py [--samples 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox import offline_sandbox  # noqa: E402  (benchmarks/sandbox.py, beside this script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    work = offline_sandbox("bench-hooks-")
    from inspect_ai.model import ModelOutput, ModelUsage

    from eval_orchestrator import orchestrate
    from eval_orchestrator.audit import UsageAudit
    from eval_orchestrator.config import build_config
    from eval_orchestrator.registry.factory import local_registry
    from eval_orchestrator.tracking.hook import WandbTracker

    ckpt = work / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    local_registry().add(ckpt, "bench")

    def output(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        out = ModelOutput.from_content(model="mockllm/model", content="Default answer")
        out.usage = ModelUsage(input_tokens=7, output_tokens=2, total_tokens=9)  # offline: no tiktoken
        return out

    task = f"{REPO / 'tests/fixtures/slow_tasks.py'}@slow"

    def once(i: int, hooks_on: bool) -> float:
        config = build_config(
            None,
            {
                "checkpoints": ["local-registry/bench:latest"],
                "tasks": [{"spec": task, "args": {"count": args.samples, "delay": 0, "generate": True}}],
                "model": {"name": "mockllm/model", "args": {}},
                "inspect": {"log_dir": str(work / f"logs-{i}-{hooks_on}"), "display": "none"},
            },
        )
        for hook in (WandbTracker, UsageAudit):
            hook.enabled = (lambda self: True) if hooks_on else (lambda self: False)  # type: ignore[method-assign]
        started = time.perf_counter()
        report = orchestrate.run(config, model_args_override={"custom_outputs": output})
        elapsed = time.perf_counter() - started
        assert report.outcomes[0].status == "success", report.outcomes
        return elapsed

    once(-1, True)  # warm-up: imports, first wandb service start
    on, off = [], []
    for i in range(args.repeats):
        off.append(once(i, False))
        on.append(once(i, True))
        print(f"  run {i + 1}: hooks off {off[-1]:.2f} s, hooks on {on[-1]:.2f} s")
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(f"{args.samples}-sample mockllm eval, median of {args.repeats}: hooks off {m_off:.2f} s, on {m_on:.2f} s")
    print(
        f"overhead of our hooks: {100 * (m_on - m_off) / m_off:+.1f}% "
        f"({1000 * (m_on - m_off) / args.samples:.2f} ms per sample; target <= 5%)"
    )


if __name__ == "__main__":
    main()
