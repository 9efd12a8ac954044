"""Exports for people never turn a sponsor's name into a live spreadsheet formula."""

from __future__ import annotations

import io

import polars as pl
from openpyxl import load_workbook

from serving.web.export import to_csv, to_xlsx
from sponsorwatch.spreadsheet import neutralise_formulas

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+31 20 123", "-1+1", "@SUM(A1)",
           "\tcmd", "\rx", "Café B.V.", None]


def _frame() -> pl.DataFrame:
    return pl.DataFrame({"name": HOSTILE, "score": [-0.5, 1.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]})


def test_text_that_would_start_a_formula_gets_an_apostrophe() -> None:
    out = neutralise_formulas(_frame())
    assert out["name"].to_list() == ["'" + v for v in HOSTILE[:6]] + ["Café B.V.", None]
    assert out["score"].to_list() == _frame()["score"].to_list()  # numbers untouched


def test_csv_export_is_neutralised() -> None:
    text = to_csv(_frame()).decode("utf-8-sig")
    read = pl.read_csv(io.StringIO(text))
    assert all(not str(v).startswith(("=", "+", "-", "@")) for v in read["name"].drop_nulls())


def test_xlsx_export_keeps_the_text_as_text() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(_frame(), {"snapshot": "2025-12-31"})))
    cells = [row[0] for row in book["ranking"].iter_rows(min_row=2, max_col=1)]
    assert [c.data_type for c in cells[:6]] == ["s"] * 6  # strings, never "f" (formula)
    assert cells[0].value == HOSTILE[0]
