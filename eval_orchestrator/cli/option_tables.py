"""Tables of Inspect's options that `run` declares alike (cli/options.py makes a flag of each row)."""

from __future__ import annotations

from typing import Any

# Inspect's generation options that take one plain value (GenerateConfig validates it, in the preflight):
# (name, type, help, (argument, config value)).
GENERATE_FLAGS: tuple[tuple[str, Any, str, tuple[str, Any]], ...] = (
    ("top_k", int, "Sample from the top K tokens.", ("40", 40)),
    ("max_retries", int, "Retries of a failed model request.", ("3", 3)),
    ("attempt_timeout", int, "Seconds one request attempt may take before a retry.", ("20", 20)),
    ("stream_idle_timeout", int, "Seconds a streamed response may stay idle.", ("30", 30)),
    ("system_message", str, "A system message to insert before the task's messages.", ("Be brief.", "Be brief.")),
    ("best_of", int, "Completions generated server-side, the best returned.", ("2", 2)),
    ("frequency_penalty", float, "Penalise tokens by how often they appeared (-2..2).", ("0.5", 0.5)),
    ("presence_penalty", float, "Penalise tokens that appeared at all (-2..2).", ("0.5", 0.5)),
    ("num_choices", int, "Completions to generate per request.", ("2", 2)),
    ("top_logprobs", int, "Most likely tokens to return at each position (0..20).", ("5", 5)),
    ("prompt_logprobs", int, "Log probabilities of the prompt's tokens (vLLM, SGLang).", ("1", 1)),
    ("max_tool_output", int, "Bytes of a tool's output kept.", ("1000", 1000)),
    ("verbosity", str, "Response verbosity (GPT-5): low, medium, high.", ("low", "low")),
    ("effort", str, "Output effort (Claude): low, medium, high, xhigh, max.", ("low", "low")),
    ("reasoning_effort", str, "Reasoning effort: none, minimal, low, medium, high, xhigh, max.", ("low", "low")),
    ("reasoning_mode", str, "Reasoning mode: standard, pro.", ("pro", "pro")),
    ("reasoning_tokens", int, "Most tokens to spend reasoning.", ("512", 512)),
    ("reasoning_summary", str, "Reasoning summary: none, concise, detailed, auto.", ("auto", "auto")),
    ("reasoning_history", str, "Reasoning kept in history: none, all, last, auto.", ("last", "last")),
)

# Inspect Scout's scanner options, as `inspect eval` takes them (resolved by Inspect: scan_options.py):
# (flag, parameter, key under inspect.scan, repeatable, help).
SCAN_FLAGS: tuple[tuple[str, str, str, bool, str], ...] = (
    ("--scanner", "scanner", "scanner", False, "Inspect Scout scanners after each sample (.py, config or pkg/name)."),
    ("--scanner-arg", "scanner_arg", "scanner_args", True, "KEY=VALUE scanner arg (repeatable)."),
    ("--scans", "scans", "scans", False, "Where scan results go."),
    ("--scan-name", "scan_name", "scan_name", False, "The scan's name."),
    ("--scan-tags", "scan_tags", "scan_tags", False, "The scan's tags (comma-separated)."),
    ("--scan-metadata", "scan_metadata", "scan_metadata", True, "KEY=VALUE scan metadata (repeatable)."),
    ("-F", "scan_filter", "scan_filter", True, "Transcript filter for the scanners (repeatable)."),
    ("--scan-model", "scan_model", "scan_model", False, "The scanners' model."),
    ("--scan-model-base-url", "scan_model_base_url", "scan_model_base_url", False, "The scanners' model base URL."),
    ("--scan-model-arg", "scan_model_arg", "scan_model_args", True, "KEY=VALUE arg of the scanners' model."),
    ("--scan-model-config", "scan_model_config", "scan_model_config", False, "File of the scanners' model args."),
    ("--scan-model-role", "scan_model_role", "scan_model_roles", True, "ROLE=MODEL for the scanners (repeatable)."),
    (
        "--scan-generate-config",
        "scan_generate_config",
        "scan_generate_config",
        False,
        "File of the scanners' generate config.",
    ),
)
