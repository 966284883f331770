"""The converters of `run`'s Inspect options: what a flag's text becomes in the run config, with
Inspect's meaning, and a one-line error naming the flag when the text cannot be read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sample_ids(values: tuple[str, ...]) -> list[str] | None:
    ids = [part.strip() for value in values for part in value.split(",")]
    return [i for i in ids if i] or None


def roles(pairs: tuple[str, ...]) -> dict[str, str]:
    from eval_orchestrator.errors import UserError

    roles = {}
    for pair in pairs:
        role, sep, spec = pair.partition("=")
        if not sep or not role.strip() or not spec.strip():
            raise UserError(f"--model-role {pair!r} is not ROLE=SPEC; write e.g. --model-role grader=openai/gpt-4o")
        roles[role.strip()] = spec.strip()
    return roles


def int_or_bool(
    name: str, true_value: int, meaning: Callable[[int], bool | int | None] = lambda value: value
) -> Callable[[str], bool | int | None]:
    """Inspect's `--name [N]` options, read as Inspect reads them, then given the meaning its `eval`
    gives the number (``meaning``; None: left unset)."""

    def convert(raw: str) -> bool | int | None:
        from eval_orchestrator.errors import UserError
        from eval_orchestrator.inspect_api import int_or_bool_value

        try:
            return meaning(int_or_bool_value(raw.strip(), true_value))
        except ValueError:
            raise UserError(f"--{name} {raw!r}: give true, false or an integer") from None

    return convert


def key_values(name: str) -> Callable[[tuple[str, ...]], dict[str, str]]:
    def convert(pairs: tuple[str, ...]) -> dict[str, str]:
        from eval_orchestrator.errors import UserError

        out = {}
        for pair in (part for value in pairs for part in value.split(",") if part.strip()):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise UserError(f"--{name} {pair!r} is not KEY=VALUE; write e.g. --{name} team=evals")
            out[key.strip()] = value.strip()
        return out

    return convert


def logit_bias(raw: str) -> dict[int, float]:
    from eval_orchestrator.errors import UserError

    try:
        return {int(k): float(v) for k, _, v in (pair.partition("=") for pair in raw.split(",") if pair.strip())}
    except ValueError:
        raise UserError(
            f"--logit-bias {raw!r} is not TOKEN_ID=BIAS pairs; write e.g. --logit-bias 42=10,43=-10"
        ) from None


def mapping(name: str) -> Callable[[str], dict[str, Any]]:
    """A JSON or YAML mapping given inline (Inspect's --extra-headers, --extra-body)."""

    def convert(raw: str) -> dict[str, Any]:
        import yaml

        from eval_orchestrator.errors import UserError

        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = None
        if not isinstance(value, dict):
            raise UserError(f'--{name} must be a JSON or YAML mapping, e.g. --{name} \'{{"key": "value"}}\'')
        return value

    return convert


def mapping_file(flag: str, what: str) -> Callable[[str], dict[str, Any]]:
    """A YAML or JSON file holding a mapping (--generate-config, --solver-config), read where it is given."""

    def convert(raw: str) -> dict[str, Any]:
        import yaml

        from eval_orchestrator.errors import UserError

        try:
            with open(raw, encoding="utf-8") as file:
                value = yaml.safe_load(file)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UserError(f"{flag} {raw!r} cannot be read ({type(exc).__name__}); give a YAML or JSON file of "
                            f"{what}") from None  # fmt: skip
        if not isinstance(value, dict):
            raise UserError(f"{flag} {raw!r} is not a mapping of {what}")
        return value

    return convert


def true_false_or_text(raw: str) -> bool | str | None:
    """Inspect's --notification, as its callback reads it: alone or `true`/`yes`/`1` -> True,
    `false`/`no`/`0` -> unset, else the text itself."""
    lowered = raw.strip().lower()
    return True if lowered in ("true", "yes", "1") else None if lowered in ("false", "no", "0") else raw


def comma_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def cache_prompt(raw: str) -> str | bool:
    return raw if raw == "auto" else raw == "true"


def solver_args(pairs: tuple[str, ...]) -> dict[str, Any]:
    """-S key=value pairs, read as -T's (YAML scalars)."""
    from eval_orchestrator.cli.common import kv_pairs

    return kv_pairs(pairs, "-S")


def inspect_generate(name: str, bare: int | None = None) -> Callable[[str], Any]:
    """A generation option Inspect converts its own way (--cache, --batch, --adaptive-connections,
    --response-schema): its conversion, so the value means what it means for `inspect eval`."""

    def convert(raw: str) -> Any:
        from eval_orchestrator.inspect_api import generate_value

        return generate_value(name, raw, bare)

    return convert
