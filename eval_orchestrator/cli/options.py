"""Every option the commands share, declared once (as Inspect's own CLI declares its eval options):
its flag, help, help section, and the run-config key it sets. A command lists the groups it takes;
its values become the flags layer of the config (flags > environment > YAML > defaults). Adding an
Inspect flag is one ``Flag`` here; a test sets each one and finds it at its key in the config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

Path = tuple[str, ...]


@dataclass(frozen=True)
class Flag:
    decls: tuple[str, ...]  # as click takes them: ("--limit",), ("--skip-cache/--keep-cache",)
    name: str  # the parameter's name in the command
    help: str
    section: str  # where `--help` shows it
    path: Path | None = None  # the config key it sets; None: the command uses it itself (see `handled`)
    type: Any = None
    multiple: bool = False
    is_flag: bool = False
    convert: Callable[[Any], Any] | None = None  # the click value -> the config value
    example: tuple[tuple[str, ...], Any] | None = None  # (arguments, the config value they give): for the test

    def option(self) -> Callable[[Any], Any]:
        extra: dict[str, Any] = {"is_flag": True} if self.is_flag else {"type": self.type, "multiple": self.multiple}
        if "/" in self.decls[0]:
            extra = {"default": None}  # an on/off pair: unset unless given
        return click.option(*self.decls, self.name, help=self.help, **extra)

    def value(self, raw: Any) -> Any:
        """The config value of what was given; None when the flag was not given."""
        if raw is None or (self.multiple and not raw) or (self.is_flag and not raw):
            return None
        if self.convert is not None:
            return self.convert(raw)
        return list(raw) if self.multiple else raw


def _sample_ids(values: tuple[str, ...]) -> list[str] | None:
    ids = [part.strip() for value in values for part in value.split(",")]
    return [i for i in ids if i] or None


def _roles(pairs: tuple[str, ...]) -> dict[str, str]:
    from eval_orchestrator.errors import UserError

    roles = {}
    for pair in pairs:
        role, sep, spec = pair.partition("=")
        if not sep or not role.strip() or not spec.strip():
            raise UserError(f"--model-role {pair!r} is not ROLE=SPEC; write e.g. --model-role grader=openai/gpt-4o")
        roles[role.strip()] = spec.strip()
    return roles


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

PLAN, TASKS, MODEL, GENERATION, LIMITS, LOGS, WANDB, STORE, EXECUTOR = (
    "Plan", "Tasks and samples", "Model", "Generation", "Limits and errors", "Logs and display", "W&B and the Hub",
    "Checkpoint store", "Executor",
)  # fmt: skip
DISPLAYS = click.Choice(["full", "conversation", "rich", "plain", "log", "none"])
MODES = click.Choice(["auto", "online", "offline", "disabled"])


def _flag(decl: str, path: Path, kind: Any, text: str, section: str, example: tuple[str, Any]) -> Flag:
    """An option with one value at one key (most of Inspect's)."""
    name = decl.lstrip("-").replace("-", "_")
    return Flag((decl,), name, text, section, path, kind, example=((decl, example[0]), example[1]))


CONFIG = Flag(("--config", "-c"), "config_file", "YAML run config.", PLAN, type=click.Path(dir_okay=False))
LOCKED = Flag(("--locked",), "lock_file", "Run a lockfile (`eval-orchestrator lock`): exactly its pinned versions.",
              PLAN, type=click.Path(dir_okay=False))  # fmt: skip
CHECKPOINT = Flag(
    ("--checkpoint",),
    "checkpoints",
    "Checkpoint reference (repeatable).",
    PLAN,
    ("checkpoints",),
    multiple=True,
    example=(("--checkpoint", "local-registry/x:v1"), ["local-registry/x:v1"]),
)
SECRET = Flag(("--secret",), "secrets", "An environment variable the evals need (repeatable), added to the config's "
              "secrets: checked before any checkpoint work, never written anywhere.", PLAN, multiple=True)  # fmt: skip
TASK = Flag(("--task",), "tasks", "Inspect task spec, e.g. tasks/demo.py@demo (repeatable).", TASKS, multiple=True)
TASK_ARG = Flag(("-T",), "task_args", "Task arg key=value for the --task specs (repeatable).", TASKS, multiple=True)
MODEL_ARG = Flag(("-M",), "model_args", "Model arg key=value, added to the config's (repeatable).", MODEL,
                 multiple=True)  # fmt: skip
JSON = Flag(("--json",), "as_json", "Print the result as JSON on stdout.", LOGS, is_flag=True)

RUN_FLAGS: tuple[Flag, ...] = (
    CONFIG, LOCKED, CHECKPOINT, SECRET, TASK, TASK_ARG,
    _flag("--limit", ("inspect", "limit"), int, "Samples per task.", TASKS, ("5", 5)),
    Flag(("--sample-id",), "sample_id", "Only these sample ids (a,b or repeat).", TASKS, ("inspect", "sample_id"),
         multiple=True, convert=_sample_ids, example=(("--sample-id", "a,b"), ["a", "b"])),
    _flag("--epochs", ("inspect", "epochs"), int, "Epochs per sample.", TASKS, ("3", 3)),
    Flag(("--epochs-reducer",), "epochs_reducer", "mean, mode, max, at_least_N, pass_at_N.", TASKS,
         ("inspect", "epochs_reducer"), multiple=True, example=(("--epochs-reducer", "max"), ["max"])),
    _flag("--model", ("model", "name"), str, "Inspect model spec template, e.g. 'hf/{collection}' or 'vllm/{path}'.",
          MODEL, ("mockllm/{path}", "mockllm/{path}")),
    MODEL_ARG,
    Flag(("--model-role",), "model_roles", "ROLE=SPEC, e.g. grader=openai/gpt-4o (repeatable).", MODEL,
         ("model", "roles"), multiple=True, convert=_roles,
         example=(("--model-role", "g=mockllm/x"), {"g": "mockllm/x"})),
    _flag("--max-tokens", ("model", "generate", "max_tokens"), int, "Most tokens to generate per model call.",
          GENERATION, ("8", 8)),
    _flag("--temperature", ("model", "generate", "temperature"), float, "Sampling temperature.", GENERATION,
          ("0.5", 0.5)),
    _flag("--top-p", ("model", "generate", "top_p"), float, "Nucleus sampling probability mass.", GENERATION,
          ("0.9", 0.9)),
    _flag("--seed", ("model", "generate", "seed"), int, "Random seed for generation.", GENERATION, ("7", 7)),
    _flag("--max-connections", ("model", "generate", "max_connections"), int, "Concurrent connections to the model.",
          GENERATION, ("4", 4)),
    _flag("--timeout", ("model", "generate", "timeout"), int, "Seconds a model request may take.", GENERATION,
          ("30", 30)),
    *(
        _flag(f"--{name.replace('_', '-')}", ("model", "generate", name), kind, text, GENERATION, example)
        for name, kind, text, example in GENERATE_FLAGS
    ),
    Flag(("--stop-seqs",), "stop_seqs", "Sequences where generation stops (comma-separated).", GENERATION,
         ("model", "generate", "stop_seqs"), str, convert=lambda raw: [s for s in raw.split(",") if s],
         example=(("--stop-seqs", "a,b"), ["a", "b"])),
    Flag(("--logprobs",), "logprobs", "Return the log probabilities of the output tokens.", GENERATION,
         ("model", "generate", "logprobs"), is_flag=True, example=(("--logprobs",), True)),
    _flag("--time-limit", ("inspect", "time_limit"), int, "Seconds a sample may take.", LIMITS, ("60", 60)),
    _flag("--message-limit", ("inspect", "message_limit"), int, "Messages a sample may use.", LIMITS, ("9", 9)),
    _flag("--token-limit", ("inspect", "token_limit"), int, "Tokens a sample may use.", LIMITS, ("99", 99)),
    _flag("--fail-on-error", ("inspect", "fail_on_error"), float, "Tolerated errors: a fraction (<1) or a count.",
          LIMITS, ("0.1", 0.1)),
    _flag("--max-samples", ("inspect", "max_samples"), int, "Samples in parallel per task.", LIMITS, ("2", 2)),
    _flag("--max-tasks", ("inspect", "max_tasks"), int, "Tasks in parallel.", LIMITS, ("2", 2)),
    _flag("--log-dir", ("inspect", "log_dir"), str, "Root of the Inspect logs.", LOGS, ("some-logs", "some-logs")),
    Flag(("--log-dir-allow-dirty/--no-log-dir-allow-dirty",), "log_dir_allow_dirty", "Let eval_set run in a "
         "version's log dir holding other plans' logs (the default here, so plans on one version coexist); --no-... "
         "refuses such a dir.", LOGS, ("inspect", "log_dir_allow_dirty"),
         example=(("--no-log-dir-allow-dirty",), False)),
    _flag("--display", ("inspect", "display"), DISPLAYS, "Inspect display mode.", LOGS, ("plain", "plain")),
    JSON,
)  # fmt: skip

WANDB_FLAGS: tuple[Flag, ...] = (
    _flag("--wandb-project", ("wandb", "project"), str, "W&B project (WANDB_PROJECT).", WANDB, ("p", "p")),
    _flag("--wandb-entity", ("wandb", "entity"), str, "W&B entity, team or user (WANDB_ENTITY).", WANDB, ("e", "e")),
    _flag("--wandb-mode", ("wandb", "mode"), MODES, "W&B mode (WANDB_MODE).", WANDB, ("offline", "offline")),
)
PUBLISH_FLAGS: tuple[Flag, ...] = (
    _flag("--link-results", ("wandb", "link_results"), str, "Registry collection to link each results artifact "
          "into (online).", WANDB, ("wandb-registry-evals/r", "wandb-registry-evals/r")),
    _flag("--hf-upload-repo", ("hub", "upload_repo"), str, "Hugging Face dataset repo ORG/NAME to commit each job's "
          "results to (HF_TOKEN).", WANDB, ("org/r", "org/r")),
    _flag("--hf-upload-dir", ("hub", "upload_dir"), str, "Folder in that repo (default: eval-results).", WANDB,
          ("d", "d")),
)  # fmt: skip
STORE_FLAGS: tuple[Flag, ...] = (
    _flag("--artifact-dir", ("store", "artifact_dir"), str, "Checkpoint store root (WANDB_ARTIFACT_DIR).", STORE,
          ("st", "st")),
    Flag(("--skip-cache/--keep-cache",), "skip_cache", "Do not keep fetched checkpoints after this command "
         "(WANDB_CACHE_SKIP).", STORE, ("store", "cache_skip"), example=(("--skip-cache",), True)),
    _flag("--wait-timeout", ("store", "wait_timeout"), float, "Seconds to wait for an upload while only "
          "'<alias>-local' exists (WANDB_ARTIFACT_WAIT_TIMEOUT_SEC).", STORE, ("5", 5.0)),
    _flag("--workers", ("store", "workers"), click.IntRange(1, 64), "Parallel transfers: files and ranges of large "
          "S3 objects (EVAL_ORCHESTRATOR_DOWNLOAD_WORKERS).", STORE, ("3", 3)),
)  # fmt: skip


EXECUTOR_FLAGS: tuple[Flag, ...] = (
    _flag("--executor", ("executor", "kind"), click.Choice(["local", "ray"]), "Where the evals run: here (default), "
          "or every unit a Ray task (executor: in the config).", EXECUTOR, ("ray", "ray")),
    _flag("--ray-address", ("executor", "address"), str, "The Ray cluster (RAY_ADDRESS); unset: a local Ray instance "
          "on 127.0.0.1 for the run.", EXECUTOR, ("127.0.0.1:6379", "127.0.0.1:6379")),
    _flag("--split", ("executor", "split"), click.Choice(["version", "task"]), "Ray units: one per checkpoint "
          "version (its model loaded once), or one per version x task.", EXECUTOR, ("task", "task")),
)  # fmt: skip

# `compare` (and the gate): keys of CompareOptions, whose bounds GateConfig declares once.
GATE_FLAGS: tuple[Flag, ...] = (
    Flag(("--task",), "tasks", "Task to compare (repeatable; default: every task both have).", PLAN, ("tasks",),
         multiple=True, example=(("--task", "qa"), ["qa"])),
    _flag("--cluster", ("cluster",), str, "Sample-metadata key to cluster standard errors (and the bootstrap) on.",
          PLAN, ("topic", "topic")),
    _flag("--alpha", ("alpha",), float, "1 - the interval's coverage (default 0.05).", PLAN, ("0.1", 0.1)),
    _flag("--margin", ("margin",), float, "Non-inferiority margin: a task passes when its interval's low end > -M.",
          PLAN, ("0.02", 0.02)),
    _flag("--resamples", ("resamples",), int, "Paired bootstrap resamples (default 10,000).", PLAN, ("200", 200)),
    _flag("--seed", ("seed",), int, "Bootstrap seed: same seed, same output (default 0).", PLAN, ("3", 3)),
)  # fmt: skip


def options(*groups: Sequence[Flag]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add every flag of ``groups`` to a command, in order."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for flag in reversed([flag for group in groups for flag in group]):
            command = flag.option()(command)
        return command

    return decorate


def config_layer(flags: Sequence[Flag], params: dict[str, Any]) -> dict[str, Any]:
    """The nested config keys the given flags set (unset flags left out)."""
    tree: dict[str, Any] = {}
    for flag in flags:
        value = flag.value(params.get(flag.name)) if flag.path else None
        if value is None or flag.path is None:
            continue
        node = tree
        for key in flag.path[:-1]:
            node = node.setdefault(key, {})
        node[flag.path[-1]] = value
    return tree


def sections(*groups: Sequence[Flag]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`--help` sections, in the order the flags are declared."""
    found: dict[str, list[str]] = {}
    for flag in (flag for group in groups for flag in group):
        found.setdefault(flag.section, []).append(flag.name)
    return tuple((title, tuple(names)) for title, names in found.items())
