"""The `eval-orchestrator` command line: parse, call the core, map errors to exit codes.

One module per command group; heavy libraries (inspect_ai, wandb, pydantic) are imported inside
commands, so `--help` is fast.
"""

from __future__ import annotations

import json

import click

from eval_orchestrator import __version__
from eval_orchestrator.cli.cache import cache
from eval_orchestrator.cli.common import ErrorsAsExitCodes
from eval_orchestrator.cli.compare import compare, report
from eval_orchestrator.cli.determined import determined
from eval_orchestrator.cli.gate import gate
from eval_orchestrator.cli.lock import lock
from eval_orchestrator.cli.power import power
from eval_orchestrator.cli.promote import promote
from eval_orchestrator.cli.registry import registry
from eval_orchestrator.cli.run import resolve, run
from eval_orchestrator.cli.sync import sync_command
from eval_orchestrator.cli.watch import watch


@click.group(cls=ErrorsAsExitCodes)
@click.version_option(__version__, prog_name="eval-orchestrator")
def main() -> None:
    """Evaluate registered model checkpoints with Inspect AI and track the results in W&B."""
    from eval_orchestrator import env

    env.load_dotenv_file()  # the process environment wins over .env: one precedence order
    # A parent process's wandb service (WANDB_SERVICE is inherited) would outlive us if we are
    # killed, keeping our runs "in use" so a resumed plan could not continue them: use our own.
    env.unset("WANDB_SERVICE")


COMMANDS = (run, resolve, lock, compare, report, gate, power, promote, watch, registry, cache, sync_command)
for command in (*COMMANDS, determined):
    main.add_command(command)


@main.group()
def config() -> None:
    """Run config helpers."""


@config.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the run config."""
    from eval_orchestrator.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
