"""``sponsorwatch config check``: what in the settings in force is unsafe, and the rule
``serve`` applies: on an address other than loopback it refuses to start while anything is.
"""

from __future__ import annotations

import ipaddress

import typer

from cli.common import settings_of
from sponsorwatch.settings import DEVELOPMENT_SECRET, Settings

config_app = typer.Typer(help="The settings in force and what is unsafe about them.",
                         no_args_is_help=True)

#: Shorter secrets than this are refused as guessable.
MIN_SECRET_LENGTH = 16


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def unsafe_settings(settings: Settings) -> list[str]:
    """Each setting that makes the service unsafe to expose beyond this machine."""
    problems = []
    secret = settings.secret_key.get_secret_value()
    if secret == DEVELOPMENT_SECRET:
        problems.append("SPONSORWATCH_SECRET_KEY is the public development secret: anyone "
                        "who reads the code can compute the hash of any API key")
    elif len(secret) < MIN_SECRET_LENGTH:
        problems.append(f"SPONSORWATCH_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} "
                        "characters")
    session = settings.session_secret.get_secret_value() if settings.session_secret else ""
    if not session:
        problems.append("SPONSORWATCH_SESSION_SECRET is not set: session cookies are signed "
                        "with a secret derived from SPONSORWATCH_SECRET_KEY")
    elif session in (secret, DEVELOPMENT_SECRET):
        problems.append("SPONSORWATCH_SESSION_SECRET must differ from SPONSORWATCH_SECRET_KEY "
                        "and from the development secret")
    elif len(session) < MIN_SECRET_LENGTH:
        problems.append(f"SPONSORWATCH_SESSION_SECRET is shorter than {MIN_SECRET_LENGTH} "
                        "characters")
    if not settings.secure_cookies:
        problems.append("session cookies are not marked Secure (sent over plain HTTP): set "
                        "SPONSORWATCH_ENVIRONMENT=production or SPONSORWATCH_COOKIE_SECURE=true")
    if settings.environment == "development":
        problems.append("SPONSORWATCH_ENVIRONMENT is development")
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    if "*" in proxies:
        problems.append("SPONSORWATCH_TRUSTED_PROXIES is *: any client can choose the address "
                        "the sign-in throttle counts")
    return problems


@config_app.command("check")
def config_check(ctx: typer.Context) -> None:
    """List what is unsafe in the settings in force (exit 1 when anything is).

    `sponsorwatch serve` refuses to listen on an address other than loopback while
    anything is listed; the demo on 127.0.0.1 runs with the development defaults.
    """
    problems = unsafe_settings(settings_of(ctx))
    if not problems:
        typer.echo("configuration safe to serve beyond this machine")
        return
    typer.echo(f"{len(problems)} unsafe setting(s); fine for a demo on 127.0.0.1 only:")
    for problem in problems:
        typer.echo(f"  - {problem}")
    raise typer.Exit(1)


def refuse_unsafe_serve(settings: Settings, host: str) -> None:
    """Stop ``serve`` on a non-loopback ``host`` while a setting is unsafe (exit 2)."""
    problems = [] if is_loopback(host) else unsafe_settings(settings)
    if problems:
        typer.echo(f"refusing to serve on {host}: not a loopback address, and", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        typer.echo("fix these (see `sponsorwatch config check`) or serve on 127.0.0.1",
                   err=True)
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


__all__ = ["config_app", "is_loopback", "refuse_unsafe_serve", "unsafe_settings"]
