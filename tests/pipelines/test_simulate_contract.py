"""The simulated world is in contract shape (version 2, every column written): columns,
types, keys, enums, cross-field rules, references; truth stays in truth; same seed gives
the same bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from pipelines.simulate import simulate_world, write_world
from sponsorwatch.contract import CONTRACT_VERSION, TABLES, TRUTH, key_rule, row_rules

ALL_TABLES = {**TABLES, "truth": TRUTH}


def test_every_table_is_written_with_the_contract_schema(small_world_tables: dict) -> None:
    assert CONTRACT_VERSION == 2
    assert set(small_world_tables) == set(ALL_TABLES)
    for name, table in ALL_TABLES.items():
        frame = small_world_tables[name]
        # Version 2 in full: the optional columns (recorded_on, plan_id,
        # inclusion_probability, abuse_until) are written too, in the contract's order.
        assert frame.schema == table.schema, name
        assert frame.height > 0, name


def test_knowledge_time_is_never_missing(small_world_tables: dict) -> None:
    """Every version carries its recorded_on (ingest derives none), and the optional
    columns the simulator knows are filled where the contract says they apply."""
    for name in ("sponsors", "sponsor_officers", "inspections"):
        assert small_world_tables[name]["recorded_on"].null_count() == 0, name
    inspections = small_world_tables["inspections"]
    planned = inspections.filter(pl.col("selection").is_in(["RANDOM", "RISK_BASED"]))
    assert planned["plan_id"].null_count() == 0
    assert inspections.filter(pl.col("selection").is_in(["TIP", "OTHER"]))[
        "plan_id"].null_count() == inspections.filter(
        pl.col("selection").is_in(["TIP", "OTHER"])).height


@pytest.mark.parametrize("name", list(ALL_TABLES))
def test_every_row_passes_every_row_rule_and_the_key(small_world_tables: dict,
                                                     name: str) -> None:
    table, frame = ALL_TABLES[name], small_world_tables[name]
    broken = {rule.name: frame.filter(rule.violation()).height
              for rule in [*row_rules(table), key_rule(table)]}
    assert {k: v for k, v in broken.items() if v} == {}


def test_references_resolve(small_world_tables: dict) -> None:
    for name, table in TABLES.items():
        for ref in table.references:
            known = small_world_tables[ref.to_table][ref.to_column]
            dangling = small_world_tables[name].filter(~pl.col(ref.column).is_in(known.implode()))
            assert dangling.height == 0, (name, ref)


def test_truth_columns_appear_nowhere_else(small_world_tables: dict) -> None:
    truth_only = {"is_abusive", "typologies", "abuse_from", "abuse_until"}
    for name in TABLES:
        assert not truth_only & set(small_world_tables[name].columns), name


def test_payroll_and_workforce_are_folders_of_parts(small_world: Path) -> None:
    for name in ("payroll", "workforce"):
        assert sorted(p.name for p in (small_world / name).iterdir()) == ["part-000.parquet"]
    assert (small_world / "calibration.md").exists()
    assert (small_world / "calibration.json").exists()


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_same_bytes_other_seed_other_world(tmp_path: Path) -> None:
    write_world(tmp_path / "a", 120, seed=7)
    write_world(tmp_path / "b", 120, seed=7)
    write_world(tmp_path / "c", 120, seed=8)
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert a == b
    assert len(a) == 8
    assert all(a[k] != c[k] for k in a)


def test_api_returns_the_same_world_as_written(small_world: Path,
                                              small_world_tables: dict) -> None:
    from tests.conftest import SMALL_WORLD_SEED, SMALL_WORLD_SPONSORS

    tables = simulate_world(SMALL_WORLD_SPONSORS, SMALL_WORLD_SEED)
    for name, frame in tables.items():
        assert frame.equals(small_world_tables[name]), name


def test_chunked_worlds_write_parts_with_unique_keys(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Big worlds are drawn and written per chunk of sponsors; keys stay unique across parts."""
    from pipelines.simulate import world as world_module

    monkeypatch.setattr(world_module, "CHUNK_SPONSORS", 40)
    write_world(tmp_path / "w", 130, seed=5)
    parts = sorted(p.name for p in (tmp_path / "w" / "payroll").iterdir())
    assert parts == [f"part-{i:03d}.parquet" for i in range(4)]
    for name, table in TABLES.items():
        path = tmp_path / "w" / name
        frame = pl.read_parquet(path / "*.parquet" if path.is_dir()
                                else path.with_suffix(".parquet"))
        assert frame.schema == table.schema, name
        assert frame.filter(key_rule(table).violation()).is_empty(), name
