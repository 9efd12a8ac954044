"""The ``sponsorwatch`` command. Each stage's commands live in ``sponsorwatch.commands``;
their heavy imports happen inside the command bodies so ``--help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sponsorwatch.commands import register_all
from sponsorwatch.settings import Settings

app = typer.Typer(
    name="sponsorwatch",
    help="Rank recognised sponsors of knowledge migrants by abuse risk, with reasons.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", envvar="SPONSORWATCH_HOME",
        help="Folder holding every stage's state [default: ./.sponsorwatch]")] = None,
) -> None:
    """Global options shared by every command."""
    ctx.obj = Settings(home=home) if home is not None else Settings()


register_all(app)
