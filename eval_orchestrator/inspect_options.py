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
    "--reasoning-history", "--cache-prompt", "--parallel-tool-calls", "--internal-tools", "--fail-on-refusal",
    "--logit-bias", "--extra-headers", "--extra-body", "--fallback-models", "--modalities", "--generate-config",
    # Samples, limits and errors
    "--sample-shuffle", "--working-limit", "--turn-limit", "--cost-limit", "--model-cost-config", "--no-fail-on-error",
    "--continue-on-fail", "--retry-on-error", "--score-on-error", "--max-subprocesses", "--max-sandboxes",
    "--max-dataset-memory",
    # Solvers, sandboxes and approval
    "--sandbox", "--no-sandbox-cleanup", "--sandbox-prebuilt", "--approval", "--review", "--notification", "--solver",
    "-S", "--solver-config", "--no-epochs-reducer",
    # Inspect Scout's scanners (resolved by Inspect; scanning needs inspect-scout, as with `inspect eval`)
    "--scanner", "--scanner-arg", "--scans", "--scan-name", "--scan-tags", "--scan-metadata", "-F", "--scan-model",
    "--scan-model-base-url", "--scan-model-arg", "--scan-model-config", "--scan-model-role", "--scan-generate-config",
    "--sentinel", "--sentinel-arg",
    # Generation options Inspect converts its own way (its converter, so the same meaning)
    "--cache", "--batch", "--adaptive-connections", "--response-schema",
    # Logs
    "--tags", "--metadata", "--no-log-realtime", "--log-images", "--log-model-api", "--log-refusals", "--log-buffer",
    "--log-shared", "--no-score-display",
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

NOT_YET: dict[str, str] = {}


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
