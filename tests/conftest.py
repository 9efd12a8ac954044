"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sponsorwatch.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh, empty home."""
    return Settings(home=tmp_path / "home")


#: Where the PostgreSQL tests look when SPONSORWATCH_TEST_POSTGRES_URL is not set: the
#: local server of a development machine (trust auth, database ``test``).
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_PROBE_TIMEOUT_S = 2


def postgres_unreachable(url: str, timeout: float = POSTGRES_PROBE_TIMEOUT_S) -> str | None:
    """Why no PostgreSQL server answers ``SELECT 1`` at ``url`` within ``timeout`` seconds,
    in a few words on one line; None when one does."""
    import socket

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:  # the quick answer first; a URL without a host (a Unix socket) goes to psycopg
        if parsed.host:
            socket.create_connection((parsed.host, parsed.port or 5432), timeout).close()
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as error:
        return (error.strerror or str(error)).strip().lower()
    libpq_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq_url, connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        # psycopg: 'connection failed: connection to server at "h", port p failed: FATAL:
        # database "test" does not exist'; keep what failed, on one line.
        text = " ".join(str(error).split())
        return re.sub(r"^connection failed: connection to server at .*? failed: ", "",
                      text) or type(error).__name__
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL server: SPONSORWATCH_TEST_POSTGRES_URL, else the local
    server at LOCAL_POSTGRES_URL where one answers. Probed once per session (pytest keeps a
    session fixture's skip); skipped where none answers, failing instead where CI requires
    one (SPONSORWATCH_REQUIRE_POSTGRES=1) or where the given URL does not answer."""
    from sqlalchemy.engine import make_url

    given = os.environ.get("SPONSORWATCH_TEST_POSTGRES_URL")
    url = given or LOCAL_POSTGRES_URL
    why = postgres_unreachable(url)
    if why is None:
        return url
    shown = make_url(url).render_as_string(hide_password=True)
    if given:
        pytest.fail(f"SPONSORWATCH_TEST_POSTGRES_URL ({shown}) does not answer: {why}")
    reason = ("no PostgreSQL: set SPONSORWATCH_TEST_POSTGRES_URL or start a server on "
              f"127.0.0.1:5432 (tried {shown}: {why})")
    if os.environ.get("SPONSORWATCH_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"SPONSORWATCH_REQUIRE_POSTGRES=1, but {reason}")
    pytest.skip(reason)


#: The shared folder beside the repo (``../shared``): the data contract, the domain brief
#: and thresholds, and the real IND register. SPONSORWATCH_SHARED_DIR points elsewhere.
SHARED_DIR = Path(os.environ.get("SPONSORWATCH_SHARED_DIR")
                  or Path(__file__).resolve().parents[2] / "shared")


def shared_file(relative: str) -> Path:
    """``SHARED_DIR / relative``; the calling test is skipped, saying in one line what is
    missing and how to get it, where that file is absent (a clone without ../shared)."""
    path = SHARED_DIR / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/{relative} (the shared folder beside the repo: the "
                    "data contract, domain brief and IND register; not found at "
                    f"{SHARED_DIR}); put it next to the repo to run this test")
    return path


@pytest.fixture(scope="session")
def contract_doc() -> Path:
    """The data contract document, ../shared/contract/raw-records.md."""
    return shared_file("contract/raw-records.md")


@pytest.fixture(scope="session")
def ind_register() -> Path:
    """The real public register of recognised sponsors (1 July 2026), from ../shared."""
    return shared_file("data/ind-register/register-2026-07-01.json")


#: The shared small simulated world: sponsors, seed and window (others ingest it).
SMALL_WORLD_SPONSORS = 400
SMALL_WORLD_SEED = 20260701


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a ~400-sponsor simulated world (2019-01-01..2025-12-31, fixed seed), as
    ``sponsorwatch simulate`` writes it: seven contract tables, truth, calibration report."""
    from pipelines.simulate import write_world

    folder = tmp_path_factory.mktemp("small_world") / "world"
    write_world(folder, SMALL_WORLD_SPONSORS, SMALL_WORLD_SEED)
    return folder


@pytest.fixture(scope="session")
def small_world_tables(small_world: Path) -> dict:
    """The small world's tables as DataFrames (payroll and workforce parts concatenated)."""
    import polars as pl

    return {(p.stem if p.is_file() else p.name): pl.read_parquet(p if p.is_file()
                                                                 else p / "*.parquet")
            for p in sorted(small_world.iterdir()) if p.suffix == ".parquet" or p.is_dir()}


@pytest.fixture(scope="session")
def scored_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home made by ``sponsorwatch demo --no-serve`` on a small world (400 sponsors, the
    small world's seed, no GX, no plots): warehouse, quarterly feature snapshots, a real
    model trained, registered and promoted to champion, the last snapshots scored, and an
    admin key labelled ``demo``. The command's output is in ``<home>/../demo.log``.
    Treat it as read-only; copy it (shutil.copytree) to change it."""
    from typer.testing import CliRunner

    from cli.main import app

    home = tmp_path_factory.mktemp("scored") / "home"
    # Named explicitly: mlflow.set_tracking_uri leaves MLFLOW_TRACKING_URI set in the
    # environment, which Settings would otherwise prefer to this home's own registry.
    env = {"SPONSORWATCH_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    result = CliRunner().invoke(app, [
        "--home", str(home), "demo", "--no-serve", "--no-gx", "--no-plots",
        "--sponsors", str(SMALL_WORLD_SPONSORS), "--seed", str(SMALL_WORLD_SEED)], env=env)
    (home.parent / "demo.log").write_text(result.output)
    assert result.exit_code == 0, result.output
    return home
