"""Inspect's `inspect eval` options, all of them, by rule: each is supported by `run` under its own
name, or listed as not applicable (why) or not yet supported (why). Read from Inspect's own command, so
a new Inspect release with a new option fails here until it is listed; the docs' table is current."""

from __future__ import annotations

from pathlib import Path

import click

from eval_orchestrator import inspect_options
from eval_orchestrator.cli.run import run

DOC = Path(__file__).resolve().parents[1] / "docs" / "inspect-options.md"


def inspect_eval_options() -> list[str]:
    from eval_orchestrator.inspect_api import eval_command_options

    return eval_command_options()


def test_every_inspect_eval_option_is_supported_or_listed_with_a_reason() -> None:
    options = inspect_eval_options()
    assert len(options) > 100  # the scan sees Inspect's command
    unlisted = [o for o in options if inspect_options.classify(o)[0] == "unlisted"]
    assert not unlisted, f"options of `inspect eval` neither supported nor listed: {unlisted}"
    listed = [*inspect_options.SUPPORTED, *inspect_options.NOT_APPLICABLE, *inspect_options.NOT_YET]
    assert len(listed) == len(set(listed)), "an option is listed twice"
    assert not set(listed) - set(options), f"listed but not Inspect's: {set(listed) - set(options)}"


def test_each_supported_option_is_a_run_option_with_inspects_name() -> None:
    ours = {opt for param in run.params if isinstance(param, click.Option) for opt in param.opts}
    missing = [o for o in inspect_options.SUPPORTED if o not in ours]
    assert not missing, f"listed as supported, but `run` lacks: {missing}"


def test_the_docs_table_is_current() -> None:
    table = inspect_options.markdown_table(inspect_eval_options())
    assert table in DOC.read_text(), "regenerate docs/inspect-options.md: python -m eval_orchestrator.inspect_options"


def test_the_readme_and_the_guide_quote_the_current_count() -> None:
    options = inspect_eval_options()
    supported = sum(inspect_options.classify(o)[0] == "supported" for o in options)
    root = DOC.parents[1]
    assert f"{supported} of `inspect eval`'s {len(options)} options" in (root / "README.md").read_text()
    assert f"({supported} of Inspect's {len(options)})" in (root / "docs" / "guides" / "inspect.md").read_text()
