"""Every option of Inspect's `inspect eval`, and what `eval-orchestrator run` does with it, by rule:

- ``SUPPORTED``: `run` takes it under Inspect's name, with Inspect's meaning (`cli/options.py`);
- ``NOT_APPLICABLE``: it has no meaning here, and why;
- ``NOT_YET``: it applies, and `run` does not take it yet (a failing user finds why, not silence).

A test reads Inspect's own `eval` command and fails when one of its options is in none of these (or a
supported one is missing from `run`), so a new Inspect release shows up as a failing test. The docs'
table is generated from here (`markdown_table`).
"""

from __future__ import annotations

SUPPORTED: tuple[str, ...] = (
    "--json", "--model", "-M", "--model-role", "-T", "--limit", "--sample-id", "--epochs", "--epochs-reducer",
    "--max-connections", "--timeout", "--max-samples", "--max-tasks", "--message-limit", "--token-limit",
    "--time-limit", "--fail-on-error", "--log-dir", "--display",
    # Generation (Inspect's GenerateConfig): model.generate.<name>
    "--max-tokens", "--seed", "--temperature", "--top-p", "--top-k", "--max-retries", "--attempt-timeout",
    "--stream-idle-timeout", "--system-message", "--best-of", "--frequency-penalty", "--presence-penalty",
    "--stop-seqs", "--num-choices", "--logprobs", "--top-logprobs", "--prompt-logprobs", "--max-tool-output",
    "--verbosity", "--effort", "--reasoning-effort", "--reasoning-mode", "--reasoning-tokens", "--reasoning-summary",
    "--reasoning-history",
)  # fmt: skip

NOT_APPLICABLE: dict[str, str] = {
    "--detach": "runs one eval in the background; a plan is many evals, and `watch` is the long-running form",
    "--model-base-url": "the model is the checkpoint; a served model's URL goes in model.args (base_url)",
    "--model-config": "model args come from the run config's model.args (and -M)",
    "--model-spec": "the model is the checkpoint, templated by --model; its settings are model.generate",
    "--run-config": "the run config is --config (checkpoints, tasks, model, W&B)",
    "--task-config": "task args come from the run config's tasks[].args (and -T)",
    "--checkpoint": "the name is ours: a registry reference; Inspect's sample checkpointing is not wired here",
    "--acp-server": "an interactive control server for one eval; not for a plan of many",
    "--ctl-server": "an interactive control server for one eval; not for a plan of many",
    "--trace": "interactive tracing of one eval (forces one sample at a time)",
    "--no-log-samples": "`compare`, `report`, flips and the W&B tables read the samples: they are always logged",
    "--no-score": "scores are what `run` reports and `compare` compares",
    "--log-format": "our readers (compare, report, W&B results) read .eval logs",
    "--no-ansi": "display: ours is --display; colour follows the terminal",
    "--traceback-locals": "debugging Inspect itself",
    "--env": "secrets and settings reach evals through the environment, declared by name (--secret)",
    "--debug": "debugging Inspect itself",
    "--debug-port": "debugging Inspect itself",
    "--debug-errors": "debugging Inspect itself",
    "--log-level": "Inspect's console log level; ours is --display and the W&B run",
    "--log-level-transcript": "Inspect's transcript log level; the log keeps what compare needs",
}

NOT_YET: dict[str, str] = {
    "--solver": "replaces a task's solver: not yet part of the plan's identity (its logs would mix)",
    "-S": "solver args: with --solver",
    "--solver-config": "solver args: with --solver",
    "--scanner": "Inspect Scout scanners after each sample: not yet",
    "--scanner-arg": "with --scanner",
    "--scans": "with --scanner",
    "--scan-name": "with --scanner",
    "--scan-tags": "with --scanner",
    "--scan-metadata": "with --scanner",
    "-F": "with --scanner",
    "--scan-model": "with --scanner",
    "--scan-model-base-url": "with --scanner",
    "--scan-model-arg": "with --scanner",
    "--scan-model-config": "with --scanner",
    "--scan-model-role": "with --scanner",
    "--scan-generate-config": "with --scanner",
    "--tags": "Inspect log tags: W&B tags are --wandb tags in the config (wandb.tags); not passed to Inspect yet",
    "--metadata": "Inspect log metadata: ours carries the job's; user keys not merged yet",
    "--approval": "tool-call approval policies: not yet",
    "--review": "review policies: not yet",
    "--sentinel": "sentinel policies: not yet",
    "--sentinel-arg": "with --sentinel",
    "--notification": "desktop notifications: not yet",
    "--sandbox": "a sandbox for tasks that declare none: not yet (a task's own sandbox works)",
    "--no-sandbox-cleanup": "not yet",
    "--sandbox-prebuilt": "not yet",
    "--sample-shuffle": "not yet (it changes which samples a --limit takes: part of the plan's identity)",
    "--no-epochs-reducer": "not yet",
    "--adaptive-connections": "not yet",
    "--max-dataset-memory": "not yet",
    "--max-subprocesses": "not yet",
    "--max-sandboxes": "not yet",
    "--turn-limit": "not yet",
    "--cost-limit": "not yet",
    "--model-cost-config": "with --cost-limit",
    "--working-limit": "not yet",
    "--no-fail-on-error": "not yet (use --fail-on-error with the tolerated fraction)",
    "--continue-on-fail": "not yet",
    "--retry-on-error": "not yet (eval_set's retries are the config's inspect.retry_attempts)",
    "--score-on-error": "not yet",
    "--no-log-realtime": "not yet",
    "--log-images": "not yet",
    "--log-model-api": "not yet",
    "--log-refusals": "not yet",
    "--log-buffer": "not yet",
    "--log-shared": "not yet",
    "--no-score-display": "not yet",
    "--generate-config": "a file of generate settings: model.generate in the run config holds them",
    "--logit-bias": "not yet (token=bias pairs)",
    "--parallel-tool-calls": "not yet (an on/off pair; model.generate.parallel_tool_calls works)",
    "--internal-tools": "not yet (an on/off pair; model.generate.internal_tools works)",
    "--cache-prompt": "not yet (model.generate.cache_prompt works)",
    "--fallback-models": "not yet",
    "--fail-on-refusal": "not yet (model.generate.fail_on_refusal works)",
    "--response-schema": "not yet (a JSON schema file)",
    "--extra-headers": "not yet (model.generate.extra_headers works)",
    "--extra-body": "not yet (model.generate.extra_body works)",
    "--cache": "not yet (model.generate.cache works)",
    "--batch": "not yet (model.generate.batch works)",
    "--modalities": "not yet",
}


def classify(option: str) -> tuple[str, str]:
    """(status, why) of one of Inspect's eval options, by its first flag."""
    if option in SUPPORTED:
        return "supported", "same name and meaning"
    if option in NOT_APPLICABLE:
        return "not applicable", NOT_APPLICABLE[option]
    if option in NOT_YET:
        return "not yet", NOT_YET[option]
    return "unlisted", "a new Inspect option: list it in eval_orchestrator/inspect_options.py"


def markdown_table(options: list[str]) -> str:
    lines = ["| `inspect eval` option | `run` | why |", "|---|---|---|"]
    lines += [f"| `{option}` | {status} | {why} |" for option in options for status, why in [classify(option)]]
    return "\n".join(lines)


def write_doc(path: str = "docs/inspect-options.md") -> None:
    """Regenerate the docs' page from Inspect's own eval command (python -m eval_orchestrator.inspect_options)."""
    from eval_orchestrator.inspect_api import eval_command_options

    options = eval_command_options()
    counts = {status: sum(classify(o)[0] == status for o in options) for status in ("supported", "not applicable",
                                                                                     "not yet")}  # fmt: skip
    head = (
        "# `inspect eval` options and `eval-orchestrator run`\n\n"
        "Generated from Inspect's own `eval` command by `python -m eval_orchestrator.inspect_options`; a test fails "
        "when Inspect has an option this table lacks.\n\n"
        f"{len(options)} options: {counts['supported']} supported (same name, same meaning), "
        f"{counts['not applicable']} not applicable, {counts['not yet']} not yet supported.\n\n"
    )
    with open(path, "w", encoding="utf-8") as out:
        out.write(head + markdown_table(options) + "\n")


if __name__ == "__main__":
    write_doc()
