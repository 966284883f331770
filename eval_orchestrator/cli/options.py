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

from eval_orchestrator.cli import option_values as values
from eval_orchestrator.cli.option_tables import GENERATE_FLAGS, SCAN_FLAGS

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
    bare: str | None = None  # the value of the flag given alone (Inspect's `--retry-on-error [N]` form)
    example: tuple[tuple[str, ...], Any] | None = None  # (arguments, the config value they give): for the test

    def option(self) -> Callable[[Any], Any]:
        extra: dict[str, Any] = {"is_flag": True} if self.is_flag else {"type": self.type, "multiple": self.multiple}
        if self.bare is not None:
            extra = {"is_flag": False, "flag_value": self.bare, "default": None, "type": str}
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


def _switch(decl: str, path: Path, text: str, section: str, value: bool = True) -> Flag:
    """An on-only flag (`--log-images`) or an off-only one (`--no-log-realtime`, value False)."""
    name = decl.lstrip("-").replace("-", "_")
    return Flag((decl,), name, text, section, path, is_flag=True, convert=lambda _: value,
                example=((decl,), value))  # fmt: skip


PLAN, TASKS, MODEL, GENERATION, LIMITS, SANDBOX, LOGS, WANDB, STORE, EXECUTOR = (
    "Plan", "Tasks and samples", "Model", "Generation", "Limits and errors", "Solvers, sandboxes and approval",
    "Logs and display", "W&B and the Hub", "Checkpoint store", "Executor",
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
         multiple=True, convert=values.sample_ids, example=(("--sample-id", "a,b"), ["a", "b"])),
    _flag("--epochs", ("inspect", "epochs"), int, "Epochs per sample.", TASKS, ("3", 3)),
    Flag(("--epochs-reducer",), "epochs_reducer", "mean, mode, max, at_least_N, pass_at_N.", TASKS,
         ("inspect", "epochs_reducer"), multiple=True, example=(("--epochs-reducer", "max"), ["max"])),
    Flag(("--no-epochs-reducer",), "no_epochs_reducer", "Keep each epoch's score (no reducer).", TASKS,
         ("inspect", "epochs_reducer"), is_flag=True, convert=lambda _: [], example=(("--no-epochs-reducer",), [])),
    Flag(("--sample-shuffle",), "sample_shuffle", "Shuffle the samples; give a seed for a fixed order.", TASKS,
         ("inspect", "sample_shuffle"), bare="true",  # as Inspect: -1 (alone, true) shuffles, 0 does not
         convert=values.int_or_bool("sample-shuffle", -1, lambda n: True if n == -1 else n or None),
         example=(("--sample-shuffle", "7"), 7)),
    _flag("--model", ("model", "name"), str, "Inspect model spec template, e.g. 'hf/{collection}' or 'vllm/{path}'.",
          MODEL, ("mockllm/{path}", "mockllm/{path}")),
    MODEL_ARG,
    Flag(("--model-role",), "model_roles", "ROLE=SPEC, e.g. grader=openai/gpt-4o (repeatable).", MODEL,
         ("model", "roles"), multiple=True, convert=values.roles,
         example=(("--model-role", "g=mockllm/x"), {"g": "mockllm/x"})),
    Flag(("--generate-config",), "generate_config", "YAML or JSON file of generate settings; the flags below win.",
         GENERATION, ("model", "generate"), str, convert=values.mapping_file("--generate-config", "generate settings")),
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
    Flag(("--cache-prompt",), "cache_prompt", "Cache the prompt prefix: auto, true, false.", GENERATION,
         ("model", "generate", "cache_prompt"), click.Choice(["auto", "true", "false"]), convert=values.cache_prompt,
         example=(("--cache-prompt", "false"), False)),
    _switch("--parallel-tool-calls", ("model", "generate", "parallel_tool_calls"), "Parallel tool calls.", GENERATION),
    _switch("--internal-tools", ("model", "generate", "internal_tools"), "Map tools to the model's own.", GENERATION),
    _switch("--fail-on-refusal", ("model", "generate", "fail_on_refusal"), "A refusal fails the sample.", GENERATION),
    Flag(("--logit-bias",), "logit_bias", "TOKEN_ID=BIAS pairs, e.g. 42=10,43=-10.", GENERATION,
         ("model", "generate", "logit_bias"), str, convert=values.logit_bias,
         example=(("--logit-bias", "42=10"), {42: 10.0})),
    Flag(("--extra-headers",), "extra_headers", "Extra request headers, a JSON or YAML mapping.", GENERATION,
         ("model", "generate", "extra_headers"), str, convert=values.mapping("extra-headers"),
         example=(("--extra-headers", '{"X-Trace": "a"}'), {"X-Trace": "a"})),
    Flag(("--extra-body",), "extra_body", "Extra request body fields, a JSON or YAML mapping.", GENERATION,
         ("model", "generate", "extra_body"), str, convert=values.mapping("extra-body"),
         example=(("--extra-body", "{a: 1}"), {"a": 1})),
    Flag(("--cache",), "cache", "Cache model generations: alone 7 days, or an expiry (1h, 3D) or a policy file.",
         GENERATION, ("model", "generate", "cache"), bare="true", convert=values.inspect_generate("cache", 7),
         example=(("--cache", "1h"), {"expiry": "1h", "per_epoch": True, "scopes": {}})),
    Flag(("--batch",), "batch", "Batch requests: alone Inspect's default size, or a size, or a config file.",
         GENERATION, ("model", "generate", "batch"), bare="true", convert=values.inspect_generate("batch", 100),
         example=(("--batch", "500"), 500)),
    Flag(("--adaptive-connections",), "adaptive_connections", "Adaptive model connections: true, or MIN-MAX.",
         GENERATION, ("model", "generate", "adaptive_connections"), str,
         convert=values.inspect_generate("adaptive_connections"), example=(("--adaptive-connections", "true"), True)),
    Flag(("--response-schema",), "response_schema", "JSON of the response schema (name, json_schema).", GENERATION,
         ("model", "generate", "response_schema"), str, convert=values.inspect_generate("response_schema"),
         example=(("--response-schema", '{"name": "r", "json_schema": {"type": "string"}}'),
                  {"name": "r", "json_schema": {"type": "string"}})),
    Flag(("--fallback-models",), "fallback_models", "Models tried in order when a request is refused (a,b).",
         GENERATION, ("model", "generate", "fallback_models"), str, convert=values.comma_list,
         example=(("--fallback-models", "a/b,c/d"), ["a/b", "c/d"])),
    Flag(("--modalities",), "modalities", "Output modalities beyond text (comma-separated names).", GENERATION,
         ("model", "generate", "modalities"), str, convert=values.comma_list,
         example=(("--modalities", "image"), ["image"])),
    _flag("--time-limit", ("inspect", "time_limit"), int, "Seconds a sample may take.", LIMITS, ("60", 60)),
    _flag("--message-limit", ("inspect", "message_limit"), int, "Messages a sample may use.", LIMITS, ("9", 9)),
    _flag("--token-limit", ("inspect", "token_limit"), int, "Tokens a sample may use.", LIMITS, ("99", 99)),
    _flag("--fail-on-error", ("inspect", "fail_on_error"), float, "Tolerated errors: a fraction (<1) or a count.",
          LIMITS, ("0.1", 0.1)),
    _switch("--no-fail-on-error", ("inspect", "fail_on_error"), "Errors do not fail the eval.", LIMITS, False),
    _switch("--continue-on-fail", ("inspect", "continue_on_fail"), "Past the error threshold, finish the samples.",
            LIMITS),
    Flag(("--retry-on-error",), "retry_on_error", "Retry a sample that errors (N times; alone: once).", LIMITS,
         ("inspect", "retry_on_error"), bare="true",  # as Inspect: 0 retries is none
         convert=values.int_or_bool("retry-on-error", 1, lambda n: n or None),
         example=(("--retry-on-error", "3"), 3)),
    _switch("--score-on-error", ("inspect", "score_on_error"), "Score samples that error.", LIMITS),
    _flag("--working-limit", ("inspect", "working_limit"), int, "Working seconds a sample may use.", LIMITS,
          ("90", 90)),
    _flag("--turn-limit", ("inspect", "turn_limit"), int, "Model generations a sample may use.", LIMITS, ("5", 5)),
    _flag("--cost-limit", ("inspect", "cost_limit"), float, "Dollars a sample may cost.", LIMITS, ("0.5", 0.5)),
    _flag("--model-cost-config", ("inspect", "model_cost_config"), str, "YAML/JSON file of model prices.", LIMITS,
          ("prices.yaml", "prices.yaml")),
    _flag("--max-samples", ("inspect", "max_samples"), int, "Samples in parallel per task.", LIMITS, ("2", 2)),
    _flag("--max-tasks", ("inspect", "max_tasks"), int, "Tasks in parallel.", LIMITS, ("2", 2)),
    _flag("--max-subprocesses", ("inspect", "max_subprocesses"), int, "Subprocesses in parallel.", LIMITS, ("2", 2)),
    _flag("--max-sandboxes", ("inspect", "max_sandboxes"), int, "Sandboxes in parallel (per provider).", LIMITS,
          ("2", 2)),
    _flag("--max-dataset-memory", ("inspect", "max_dataset_memory"), int, "MB of samples held in memory per task.",
          LIMITS, ("64", 64)),
    _flag("--sandbox", ("inspect", "sandbox"), str, "Sandbox for tasks that declare none, e.g. docker.", SANDBOX,
          ("docker", "docker")),
    _switch("--no-sandbox-cleanup", ("inspect", "sandbox_cleanup"), "Keep sandboxes after each task.", SANDBOX, False),
    _switch("--sandbox-prebuilt", ("inspect", "sandbox_prebuilt"), "Treat sandbox images as prebuilt.", SANDBOX),
    _flag("--approval", ("inspect", "approval"), str, "Tool-call approval policy file.", SANDBOX,
          ("approval.yaml", "approval.yaml")),
    _flag("--review", ("inspect", "review"), str, "Tool-result review policy file.", SANDBOX,
          ("review.yaml", "review.yaml")),
    Flag(("--notification",), "notification", "Notify when a human-in-the-loop interaction is posted.", SANDBOX,
         ("inspect", "notification"), bare="true", convert=values.true_false_or_text,
         example=(("--notification",), True)),
    _flag("--solver", ("inspect", "solver"), str, "A solver replacing the tasks' own (file.py@name or a registry "
          "name).", SANDBOX, ("s.py@agent", "s.py@agent")),
    _flag("--sentinel", ("inspect", "sentinel"), str, "A sentinel monitor or protocol (a name, or its config file).",
          SANDBOX, ("my/monitor", "my/monitor")),
    Flag(("--sentinel-arg",), "sentinel_arg", "KEY=VALUE arg of the sentinel (repeatable).", SANDBOX,
         ("inspect", "sentinel_args"), multiple=True,
         example=(("--sentinel", "m/x", "--sentinel-arg", "k=1"), ["k=1"])),
    Flag(("--solver-config",), "solver_config", "YAML or JSON file of solver args; -S wins.", SANDBOX,
         ("inspect", "solver_args"), str, convert=values.mapping_file("--solver-config", "solver args")),
    *(
        Flag((decl,), name, text, SANDBOX, ("inspect", "scan", key), str, multiple=many,
             example=((*(() if decl == "--scanner" else ("--scanner", "s.py")), decl, "x"), ["x"] if many else "x"))
        for decl, name, key, many, text in SCAN_FLAGS
    ),
    Flag(("-S",), "solver_args", "Solver arg key=value (repeatable).", SANDBOX, ("inspect", "solver_args"),
         multiple=True, convert=values.solver_args, example=(("-S", "n=3"), {"n": 3})),
    _flag("--log-dir", ("inspect", "log_dir"), str, "Root of the Inspect logs.", LOGS, ("some-logs", "some-logs")),
    Flag(("--log-dir-allow-dirty/--no-log-dir-allow-dirty",), "log_dir_allow_dirty", "Let eval_set run in a "
         "version's log dir holding other plans' logs (the default here, so plans on one version coexist); --no-... "
         "refuses such a dir.", LOGS, ("inspect", "log_dir_allow_dirty"),
         example=(("--no-log-dir-allow-dirty",), False)),
    _flag("--display", ("inspect", "display"), DISPLAYS, "Inspect display mode.", LOGS, ("plain", "plain")),
    Flag(("--tags",), "tags", "Tags of the Inspect logs (comma-separated).", LOGS, ("inspect", "tags"), str,
         convert=values.comma_list, example=(("--tags", "a,b"), ["a", "b"])),
    Flag(("--metadata",), "metadata", "KEY=VALUE metadata of the Inspect logs (repeatable).", LOGS,
         ("inspect", "metadata"), multiple=True, convert=values.key_values("metadata"),
         example=(("--metadata", "team=evals"), {"team": "evals"})),
    _switch("--no-log-realtime", ("inspect", "log_realtime"), "Do not log sample events as they happen.", LOGS, False),
    _switch("--log-images", ("inspect", "log_images"), "Keep inline images in the log.", LOGS),
    _switch("--log-model-api", ("inspect", "log_model_api"), "Log raw model API requests and responses.", LOGS),
    _switch("--log-refusals", ("inspect", "log_refusals"), "Warn on model refusals.", LOGS),
    _flag("--log-buffer", ("inspect", "log_buffer"), int, "Samples buffered before the log is written.", LOGS,
          ("5", 5)),
    Flag(("--log-shared",), "log_shared", "Sync sample events to the log dir (every N seconds; alone: 10).", LOGS,
         ("inspect", "log_shared"), bare="true", convert=values.int_or_bool("log-shared", 10),  # Inspect's default
         example=(("--log-shared", "20"), 20)),
    _switch("--no-score-display", ("inspect", "score_display"), "Do not show metrics as the eval runs.", LOGS, False),
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
    _flag("--wandb-writer", ("wandb", "writer"), click.Choice(["auto", "process", "inline"]), "Where the W&B SDK's "
          "per-run work runs: a writer process beside the evals, inline, or auto (a process from 16 jobs).", WANDB,
          ("process", "process")),
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
        last = flag.path[-1]
        # A file's mapping then flags at the same key (--solver-config then -S): merged, the later winning.
        node[last] = {**node[last], **value} if isinstance(node.get(last), dict) and isinstance(value, dict) else value
    return tree


def sections(*groups: Sequence[Flag]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`--help` sections, in the order the flags are declared."""
    found: dict[str, list[str]] = {}
    for flag in (flag for group in groups for flag in group):
        found.setdefault(flag.section, []).append(flag.name)
    return tuple((title, tuple(names)) for title, names in found.items())
