"""What every command module shares: the settings the global callback built."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sponsorwatch.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings built by the global callback."""
    return ctx.find_root().obj
