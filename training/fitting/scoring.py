"""The ranked score table, shared by batch scoring and the online path so both produce the
same scores, ranks, bands and reasons from the same feature rows (no training-serving skew).

No mlflow here: serving imports this module.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from training.fitting.model import RiskModel

HIGH = "high"
ELEVATED = "elevated"
NORMAL = "normal"
#: The elevated band spans this many times the capacity below the high band.
ELEVATED_MULTIPLE = 4
DEFAULT_REASONS = 3

REASON_DTYPE = pl.List(pl.Struct({"feature": pl.String, "value": pl.Float64,
                                  "contribution": pl.Float64, "description": pl.String}))
SPONSOR_COLUMNS = ("sponsor_id", "name", "sbi_code", "sector", "postcode4")
SCORE_COLUMNS = (*SPONSOR_COLUMNS, "as_of", "model_version", "score", "rank", "band", "reasons")


def band_expr(rank: pl.Expr, capacity: int) -> pl.Expr:
    """high for the top ``capacity`` (what can be inspected), elevated for the next
    4 x capacity, normal below."""
    return (pl.when(rank <= capacity).then(pl.lit(HIGH))
            .when(rank <= capacity * (1 + ELEVATED_MULTIPLE)).then(pl.lit(ELEVATED))
            .otherwise(pl.lit(NORMAL)))


def score_frame(model: RiskModel, features_frame: pl.DataFrame, sponsors_frame: pl.DataFrame,
                *, capacity: int = 100, model_version: str = "",
                top_reasons: int = DEFAULT_REASONS) -> pl.DataFrame:
    """Score, rank, band and explain feature rows.

    Args:
        model: the risk model.
        features_frame: ``sponsor_id, as_of`` and at least the model's feature columns.
        sponsors_frame: the sponsors contract table (``sponsor_id, name, sbi_code,
            postcode4``); sponsors absent from it keep null descriptive columns.
        capacity: inspections per period (k): the size of the high band.
        model_version: recorded on every row.
        top_reasons: positive contributions kept per row, strongest first.

    Returns:
        One row per feature row, ``rank`` 1 = highest score (ties broken by the booster's
        margin, then sponsor_id), columns :data:`SCORE_COLUMNS` then the feature columns.
    """
    from sponsorwatch.history import known_versions
    from sponsorwatch.sbi import sbi_section

    scores = model.predict(features_frame)
    margins = model.margin(features_frame)
    reasons = [[r.as_dict() for r in row] for row in model.explain(features_frame,
                                                                   top=top_reasons)]
    sponsors = (known_versions("sponsors", sponsors_frame)
                .select("sponsor_id", "name", "sbi_code", "postcode4")
                .unique("sponsor_id", keep="first")
                .with_columns(sector=sbi_section(pl.col("sbi_code"))))
    scored = (features_frame.select("sponsor_id", "as_of", *model.feature_names)
              .with_columns(pl.Series("score", scores, dtype=pl.Float64),
                            pl.Series("__margin", margins, dtype=pl.Float64),
                            pl.Series("reasons", reasons, dtype=REASON_DTYPE),
                            pl.lit(model_version, dtype=pl.String).alias("model_version"))
              .join(sponsors, on="sponsor_id", how="left", maintain_order="left")
              .sort(["score", "__margin", "sponsor_id"], descending=[True, True, False])
              .with_row_index("rank", offset=1)
              .with_columns(pl.col("rank").cast(pl.Int64)))
    return (scored.with_columns(band_expr(pl.col("rank"), capacity).alias("band"))
            .select(*SCORE_COLUMNS, *model.feature_names))


def reasons_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The score table with ``reasons`` flattened to one line of text (for CSV)."""
    texts = [
        "; ".join(f"{r['feature']}={_fmt(r['value'])} (+{r['contribution']:.3f}): "
                  f"{r['description']}" for r in row or [])
        for row in frame.get_column("reasons").to_list()
    ]
    return frame.with_columns(pl.Series("reasons", texts, dtype=pl.String))


def _fmt(value: float | None) -> str:
    return "missing" if value is None or not np.isfinite(value) else f"{value:.4g}"


def score_store_path(scores_dir: Path, as_of: date) -> Path:
    return scores_dir / f"as_of={as_of.isoformat()}" / "scores.parquet"


def write_scores(frame: pl.DataFrame, scores_dir: Path, as_of: date,
                 out: Path | None = None) -> Path:
    """Write the table atomically to the score store and, when given, to ``out`` (CSV with
    reasons as text, or Parquet, by extension).

    Raises:
        ValueError: for an ``out`` that is neither .csv nor .parquet.
    """
    from sponsorwatch.spreadsheet import neutralise_formulas
    from sponsorwatch.storage import atomic_path, write_parquet_atomic

    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"{out}: --out must end in .csv or .parquet")
    path = score_store_path(scores_dir, as_of)
    write_parquet_atomic(frame, path)
    if out is not None:
        if out.suffix.lower() == ".csv":
            with atomic_path(out) as tmp:
                neutralise_formulas(reasons_as_text(frame)).write_csv(tmp)
        else:
            write_parquet_atomic(frame, out)
    return path


def score_dates(scores_dir: Path) -> list[date]:
    """Days with a score snapshot, oldest first."""
    if not scores_dir.exists():
        return []
    days = []
    for folder in scores_dir.glob("as_of=*"):
        try:
            if (folder / "scores.parquet").exists():
                days.append(date.fromisoformat(folder.name.removeprefix("as_of=")))
        except ValueError:
            continue
    return sorted(days)


def load_score_snapshot(scores_dir: Path, as_of: date | None = None) -> tuple[pl.DataFrame, date]:
    """The score snapshot of ``as_of`` (default: the latest).

    Raises:
        FileNotFoundError: naming the folder and the days that exist.
    """
    days = score_dates(scores_dir)
    if not days:
        raise FileNotFoundError(f"{scores_dir}: no score snapshot; run `sponsorwatch score`")
    day = as_of or days[-1]
    if day not in days:
        raise FileNotFoundError(f"{scores_dir}: no score snapshot as of {day}; there are "
                                f"{', '.join(str(d) for d in days)}")
    return pl.read_parquet(score_store_path(scores_dir, day)), day
