"""The ``sponsorwatch`` command: global options, and every stage's commands registered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import cases as cases_commands
from cli import features as features_commands
from cli import ingest as ingest_commands
from cli import monitoring as monitoring_commands
from cli import plan as plan_commands
from cli import policy as policy_commands
from cli import serving as serving_commands
from cli import simulate as simulate_commands
from cli import training as training_commands
from sponsorwatch.settings import Settings

app = typer.Typer(
    name="sponsorwatch",
    help="Rank recognised sponsors of knowledge migrants by abuse risk, with reasons.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Help texts are Markdown: paragraphs wrap to the terminal, `code` stays literal and a
    # "[default: ...]" written in a help text is shown (rich markup would swallow it).
    rich_markup_mode="markdown",
)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path, typer.Option(
        "--home", envvar="SPONSORWATCH_HOME",
        help="Folder holding every stage's state")] = Settings.model_fields["home"].default,
) -> None:
    """Global options shared by every command."""
    ctx.obj = Settings(home=home)


# Each command module exposes ``register(app)``; the order is the order of ``--help``.
for _commands in (features_commands, serving_commands, ingest_commands, simulate_commands,
                  training_commands, plan_commands, policy_commands, monitoring_commands):
    _commands.register(app)
cases_commands.register(app)  # sponsorwatch cases (issue 18)
