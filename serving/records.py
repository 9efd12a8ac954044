"""Scoring a sponsor from raw records sent with the request (``POST /v1/scores/records``).

The same code as the batch pipeline on every step, so online and batch cannot drift:
``sponsorwatch.validation`` (the contract's polars rules, as ingest applies them; no
great-expectations on this path), ``features.build.build_features`` and
the model's ``predict``/``explain``.

Context from the warehouse: the link features (shared address or officer with a revoked
sponsor) look at *other* sponsors. The request carries only its own sponsor's records; the
service adds, from the warehouse it holds in memory, the ``sponsors`` and
``sponsor_officers`` rows of the other sponsors linked to it by address or officer. Every
other table comes from the request alone, and the request's rows replace the warehouse's
for the sponsors it sends.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from serving.state import Snapshot, WarehouseContext
from sponsorwatch.contract import TABLES

#: Request row index, carried by validation to the quarantine like a file's row number.
_ROW = "_source_row"


class RecordsInvalid(ValueError):
    """The records break the contract; ``problems`` in FastAPI's validation-error shape."""

    def __init__(self, problems: list[dict[str, Any]]):
        super().__init__(f"{len(problems)} contract violation(s)")
        self.problems = problems


def _problem(table: str, row: int | None, column: str | None, rule: str,
             message: str) -> dict[str, Any]:
    loc: list[str | int] = ["body", "tables", table]
    if row is not None:
        loc.append(row)
    if column is not None:
        loc.append(column)
    return {"loc": loc, "msg": message, "type": f"contract.{rule}"}


def records_to_frames(tables: dict[str, list[dict[str, Any]] | None]) -> dict[str, pl.DataFrame]:
    """Typed frames of the request's tables (rows already parsed to Python types)."""
    return {name: pl.DataFrame(rows, schema=TABLES[name].schema, orient="row")
            for name, rows in tables.items() if rows is not None}


def contract_problems(frames: dict[str, pl.DataFrame],
                      max_problems: int = 50) -> list[dict[str, Any]]:
    """Every rule a row breaks, judged by ``sponsorwatch.validation`` exactly as ingest
    judges a file (row rules, keys, references to the request's sponsors), at most
    ``max_problems``."""
    from sponsorwatch.validation import RULES_BROKEN, ContractViolation, validate_rows

    sponsors = frames.get("sponsors")
    if sponsors is None or sponsors.is_empty():
        return [_problem("sponsors", None, None, "sponsor_required",
                         "send the sponsors row of every sponsor to score")]
    known = {"sponsors": sponsors["sponsor_id"]}
    problems: list[dict[str, Any]] = []
    for name, frame in frames.items():
        try:
            checked = validate_rows(name, frame.with_row_index(_ROW).with_columns(
                pl.col(_ROW).cast(pl.Int64)), known=known, file=f"tables.{name}")
        except ContractViolation as exc:
            problems.append(_problem(name, None, exc.column, exc.rule, str(exc)))
            continue
        for row, rules in checked.quarantined.select(_ROW, RULES_BROKEN).iter_rows():
            problems.extend(_problem(name, row, None, rule,
                                     f"{name} row {row} breaks {rule}: {_describe(name, rule)}")
                            for rule in rules)
    return problems[:max_problems]


def _describe(table: str, rule_name: str) -> str:
    from sponsorwatch.contract import key_rule, row_rules

    contract_table = TABLES[table]
    for rule in [*row_rules(contract_table), key_rule(contract_table)]:
        if rule.name == rule_name:
            return rule.description
    return rule_name.replace("_", " ")


def feature_tables(frames: dict[str, pl.DataFrame],
                   context: WarehouseContext | None) -> dict[str, pl.LazyFrame]:
    """The request's tables plus the warehouse rows of sponsors linked to them."""
    tables = {name: frame.lazy() for name, frame in frames.items()}
    if context is None:
        return tables
    officers = frames.get("sponsor_officers", pl.DataFrame(schema=TABLES["sponsor_officers"]
                                                           .schema))
    linked, linked_officers = context.linked_records(frames["sponsors"], officers)
    tables["sponsors"] = pl.concat([frames["sponsors"], linked]).lazy()
    tables["sponsor_officers"] = pl.concat([officers, linked_officers]).lazy()
    return tables


def build_request_features(frames: dict[str, pl.DataFrame], as_of: date,
                           thresholds: pl.DataFrame, use_sector: bool,
                           context: WarehouseContext | None,
                           validate: bool = True) -> pl.DataFrame:
    """Features as of ``as_of`` of the request's sponsors that are recognised on that day
    (``validate=False`` for records already judged).

    Raises:
        RecordsInvalid: when the records break the contract.
    """
    from features.build import ENGINE, build_features

    problems = contract_problems(frames) if validate else []
    if problems:
        raise RecordsInvalid(problems)
    requested = frames["sponsors"]["sponsor_id"]
    # The batch pipeline's engine: on a micro-batch it runs the plan in about half the
    # time of the default streaming engine.
    return (build_features(feature_tables(frames, context), as_of, thresholds, use_sector)
            .filter(pl.col("sponsor_id").is_in(requested.implode())).collect(engine=ENGINE))


def score_features(model: Any, features: pl.DataFrame, sponsors: pl.DataFrame,
                   snapshot: Snapshot, capacity: int, model_version: str) -> list[dict[str, Any]]:
    """Score and reasons of each feature row by the batch scorer
    (``training.fitting.scoring.score_frame``), placed in the served ranking: ``rank_in_snapshot``
    is where the score would stand there, and the band is the one of that rank."""
    from training.fitting.scoring import band_expr, score_frame

    scored = score_frame(model, features, sponsors, capacity=capacity,
                         model_version=model_version)
    ranks = [snapshot.rank_of_score(score) for score in scored["score"].to_list()]
    bands = (pl.DataFrame({"rank": ranks}, schema={"rank": pl.Int64})
             .select(band_expr(pl.col("rank"), capacity)).to_series())
    return [{"sponsor_id": row["sponsor_id"], "score": row["score"], "band": band,
             "rank_in_snapshot": rank,
             "reasons": row["reasons"],
             "features": {name: row[name] for name in model.feature_names}}
            for row, rank, band in zip(scored.iter_rows(named=True), ranks, bands, strict=True)]
