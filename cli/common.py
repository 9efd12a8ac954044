"""What every command module shares: the settings the global callback built, day parsing and
the spelling of the output option."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sponsorwatch.settings import Settings

#: Metavar of every option that takes a day.
DAY = "YYYY-MM-DD"

#: Old option names still accepted, hidden from ``--help``: old name -> current name.
_OLD_OPTION_NAMES = {"output": "out"}

#: ``context_settings`` of a command whose output file option was once ``--output``: the old
#: spelling still works (click normalises option names before matching them) but only
#: ``--out`` is shown.
ACCEPTS_OLD_OUTPUT: dict[str, Any] = {
    "token_normalize_func": lambda name: _OLD_OPTION_NAMES.get(name, name)}


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings built by the global callback."""
    return ctx.find_root().obj


def parse_day(value: str | dt.date, option: str | None = None) -> dt.date:
    """A YYYY-MM-DD day given to ``option``, or a usage error naming it. Also a typer
    ``parser``: click then names the option itself and passes a default day through."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date ({DAY})", param_hint=option) from exc


def optional_day(value: str | None, option: str) -> dt.date | None:
    return None if value is None else parse_day(value, option)


def service_engine(ctx: typer.Context):  # noqa: ANN201 - sqlalchemy Engine, imported lazily
    """The service database of the home in force, its tables created (cases included)."""
    import serving.cases.models  # noqa: F401 - registers the case tables
    from serving.db import create_schema, make_engine

    settings = settings_of(ctx)
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.service_database_url)
    create_schema(engine)
    return engine
