"""The filtered ranking as CSV or Excel, one row per sponsor with its top reasons."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import polars as pl

from serving.web.i18n import Language, feature_text, feature_value
from serving.web.ranking import RankingView

#: Reasons per sponsor in an export (the snapshot keeps the top three).
EXPORT_REASONS = 3
BASE_COLUMNS = ("rank", "sponsor_id", "name", "sector", "postcode4", "score", "band",
                "last_review")


def export_frame(view: RankingView, rows: pl.DataFrame, lang: Language,
                 last_decisions: Mapping[str, str]) -> pl.DataFrame:
    """``rows`` (a selection of ``view``) with each of its top reasons as feature, value,
    push and a sentence in ``lang``."""
    from features.registry import FEATURES

    reasons = (rows.select("sponsor_id")
               .join(view.snapshot.frame.select("sponsor_id", "reasons"), on="sponsor_id",
                     how="left", maintain_order="left")["reasons"].to_list())
    columns: dict[str, list[Any]] = {}
    for i in range(EXPORT_REASONS):
        features, values, pushes, texts = [], [], [], []
        for row in reasons:
            reason = row[i] if row and len(row) > i else None
            if reason is None:
                features.append(None), values.append(None), pushes.append(None)
                texts.append(None)
                continue
            spec = FEATURES.get(reason["feature"])
            features.append(reason["feature"])
            values.append(reason["value"])
            pushes.append(reason["contribution"])
            texts.append(f"{feature_text(lang, reason['feature'], reason['description'])}: "
                         f"{feature_value(reason['value'], spec.unit if spec else None, lang)}")
        columns |= {f"reason_{i + 1}": texts, f"reason_{i + 1}_feature": features,
                    f"reason_{i + 1}_value": values, f"reason_{i + 1}_push": pushes}
    decisions = [last_decisions.get(s, "") for s in rows["sponsor_id"].to_list()]
    base = rows.select("rank", "sponsor_id", "name", "sector", "postcode4", "score", "band")
    return base.with_columns(
        pl.Series("last_review", decisions, dtype=pl.String),
        *(pl.Series(name, values, dtype=pl.Float64 if name.endswith(("_value", "_push"))
                    else pl.String, strict=False) for name, values in columns.items()))


def to_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the accents right."""
    return "\ufeff".encode() + frame.write_csv().encode("utf-8")


def to_xlsx(frame: pl.DataFrame, about: Mapping[str, str]) -> bytes:
    """A workbook with the ranking on the first sheet and what it is (snapshot, model,
    filters) on the second."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "ranking"
    sheet.append(frame.columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in frame.iter_rows():
        sheet.append(["" if v is None else v for v in row])
    sheet.freeze_panes = "A2"
    widths = {"name": 32, "sector": 28, "reason_1": 60, "reason_2": 60, "reason_3": 60}
    for index, name in enumerate(frame.columns, start=1):
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = widths.get(name, 14)
    info = book.create_sheet("about")
    for key, value in about.items():
        info.append([key, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
