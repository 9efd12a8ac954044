"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sponsorwatch.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh, empty home."""
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL server; skipped where none is given, failing where CI
    requires one (SPONSORWATCH_REQUIRE_POSTGRES=1)."""
    url = os.environ.get("SPONSORWATCH_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("SPONSORWATCH_REQUIRE_POSTGRES") == "1":
            pytest.fail("SPONSORWATCH_TEST_POSTGRES_URL is required here but not set")
        pytest.skip("no PostgreSQL: set SPONSORWATCH_TEST_POSTGRES_URL to run")
    return url


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
