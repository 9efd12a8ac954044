"""The filtered ranking as CSV or Excel, one row per sponsor with its top reasons.

The reasons of every sponsor, written out in words, are built once per snapshot and
language (:func:`reasons_table`, cached on the :class:`RankingView`); an export is then a
join of the selected rows with that table.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import polars as pl

from serving.web.i18n import Language, feature_text, feature_value
from serving.web.ranking import RankingView
from sponsorwatch.spreadsheet import XLSX_TEXT_OPTIONS, neutralise_formulas

#: Reasons per sponsor in an export (the snapshot keeps the top three).
EXPORT_REASONS = 3


def reasons_table(view: RankingView, lang: Language) -> pl.DataFrame:
    """``sponsor_id`` and, per reason, a sentence in ``lang``, the feature, its value and
    its push on the score (cached per snapshot and language)."""
    cached = view.extras.get(("reasons", lang))
    if cached is not None:
        return cached
    from features.registry import FEATURES

    frame = view.snapshot.frame
    units = {name: spec.unit for name, spec in FEATURES.items()}
    columns: dict[str, list[Any]] = {}
    reasons = frame["reasons"].to_list()
    for i in range(EXPORT_REASONS):
        texts: list[str | None] = []
        features: list[str | None] = []
        values: list[float | None] = []
        pushes: list[float | None] = []
        for row in reasons:
            reason = row[i] if row and len(row) > i else None
            if reason is None:
                texts.append(None)
                features.append(None)
                values.append(None)
                pushes.append(None)
                continue
            name = reason["feature"]
            texts.append(f"{feature_text(lang, name, reason['description'])}: "
                         f"{feature_value(reason['value'], units.get(name), lang)}")
            features.append(name)
            values.append(reason["value"])
            pushes.append(reason["contribution"])
        columns |= {f"reason_{i + 1}": texts, f"reason_{i + 1}_feature": features,
                    f"reason_{i + 1}_value": values, f"reason_{i + 1}_push": pushes}
    table = pl.DataFrame({"sponsor_id": frame["sponsor_id"], **{
        name: pl.Series(name, values, dtype=pl.Float64 if name.endswith(("_value", "_push"))
                        else pl.String, strict=False)
        for name, values in columns.items()}})
    view.extras[("reasons", lang)] = table
    return table


def export_frame(view: RankingView, rows: pl.DataFrame, lang: Language,
                 last_decisions: Mapping[str, str]) -> pl.DataFrame:
    """``rows`` (a selection of ``view``, in order) with the latest review decision and
    the top reasons."""
    decisions = pl.DataFrame({"sponsor_id": list(last_decisions),
                              "last_review": list(last_decisions.values())},
                             schema={"sponsor_id": pl.String, "last_review": pl.String})
    return (rows.select("rank", "sponsor_id", "name", "sector", "postcode4", "score", "band")
            .join(decisions, on="sponsor_id", how="left", maintain_order="left")
            .with_columns(pl.col("last_review").fill_null(""))
            .join(reasons_table(view, lang), on="sponsor_id", how="left",
                  maintain_order="left"))


def to_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the accents right; text
    that would start a formula is neutralised."""
    return "\ufeff".encode() + neutralise_formulas(frame).write_csv().encode("utf-8")


def to_xlsx(frame: pl.DataFrame, about: Mapping[str, str]) -> bytes:
    """A workbook with the ranking on the first sheet (bold header, frozen first row) and
    what it is (snapshot, model, filters) on the second. Written by xlsxwriter through
    polars; openpyxl reads it back (tests)."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, **XLSX_TEXT_OPTIONS})
    widths = {"name": 32, "sector": 28, "reason_1": 60, "reason_2": 60, "reason_3": 60}
    frame.write_excel(workbook=book, worksheet="ranking", header_format={"bold": True},
                      autofilter=False, table_style=None, freeze_panes=(1, 0),
                      column_widths={c: widths.get(c, 14) for c in frame.columns},
                      float_precision=6)
    info = book.add_worksheet("about")
    for row, (key, value) in enumerate(about.items()):
        info.write_string(row, 0, key)
        info.write_string(row, 1, value)
    book.close()
    return out.getvalue()
