"""Inspect's own `eval` / `eval-set` flags on `run`, same names and meanings: generation settings go to
`model.generate`, limits and sample selection to `inspect.*` (flags win over the config)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

# flag -> (config path, type, help)
FLAGS: dict[str, tuple[tuple[str, ...], Any, str]] = {
    "--max-tokens": (("model", "generate", "max_tokens"), int, "Most tokens to generate per model call."),
    "--temperature": (("model", "generate", "temperature"), float, "Sampling temperature."),
    "--top-p": (("model", "generate", "top_p"), float, "Nucleus sampling probability mass."),
    "--seed": (("model", "generate", "seed"), int, "Random seed for generation."),
    "--max-connections": (("model", "generate", "max_connections"), int, "Concurrent connections to the model."),
    "--timeout": (("model", "generate", "timeout"), int, "Seconds a model request may take."),
    "--time-limit": (("inspect", "time_limit"), int, "Seconds a sample may take."),
    "--message-limit": (("inspect", "message_limit"), int, "Messages a sample may use."),
    "--token-limit": (("inspect", "token_limit"), int, "Tokens a sample may use."),
    "--fail-on-error": (("inspect", "fail_on_error"), float, "Tolerated errors: a fraction (<1) or a count."),
}


def _option_name(flag: str) -> str:
    return "inspect_" + flag.lstrip("-").replace("-", "_")


def inspect_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add Inspect's flags to a command; it receives them as ``inspect_flags`` ({config path: value})."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags: dict[tuple[str, ...], Any] = {
            path: kwargs.pop(_option_name(flag)) for flag, (path, _, _) in FLAGS.items()
        }
        sample_ids = [part.strip() for value in kwargs.pop("inspect_sample_id") for part in value.split(",")]
        flags[("inspect", "sample_id")] = [s for s in sample_ids if s] or None
        flags[("inspect", "epochs_reducer")] = list(kwargs.pop("inspect_epochs_reducer")) or None
        flags[("inspect", "log_dir_allow_dirty")] = kwargs.pop("inspect_log_dir_allow_dirty")
        return command(*args, inspect_flags=flags, **kwargs)

    decorated: Callable[..., Any] = wrapper
    options = [click.option(flag, _option_name(flag), type=kind, help=text) for flag, (_, kind, text) in FLAGS.items()]
    options += [
        click.option("--sample-id", "inspect_sample_id", multiple=True, help="Only these sample ids (a,b or repeat)."),
        click.option(
            "--epochs-reducer", "inspect_epochs_reducer", multiple=True, help="mean, mode, max, at_least_N, pass_at_N."
        ),
        click.option(
            "--log-dir-allow-dirty/--no-log-dir-allow-dirty",
            "inspect_log_dir_allow_dirty",
            default=None,
            help="Let eval_set run in a version's log dir holding other plans' logs (the default here, so plans "
            "on one version coexist); --no-... refuses such a dir.",
        ),
    ]
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
