"""Command modules. Each exposes ``register(app)``; add a module to ``_MODULES`` to ship it."""

from __future__ import annotations

from importlib import import_module

import typer

_MODULES: tuple[str, ...] = ("features", "serving", "ingest", "simulate", "training", "plan")


def register_all(app: typer.Typer) -> None:
    for name in _MODULES:
        import_module(f"sponsorwatch.commands.{name}").register(app)


def settings_of(ctx: typer.Context):  # noqa: ANN201 - avoids importing Settings eagerly
    """The Settings built by the global callback."""
    return ctx.find_root().obj
