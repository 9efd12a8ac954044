"""Text that a spreadsheet program would run as a formula, made harmless (CSV injection).

A sponsor named ``=HYPERLINK("http://evil", "click")`` is data, not a formula. In a CSV
file, a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading apostrophe, which spreadsheet programs show as text (OWASP's advice). Excel
workbooks are written with xlsxwriter's ``strings_to_formulas`` off instead, so the text
stays exactly as it was. Files meant for machines (an extract written back for ingest)
are left as they are.
"""

from __future__ import annotations

import polars as pl

#: A text cell starting with one of these is a formula to a spreadsheet program.
FORMULA_START = r"^[=+\-@\t\r]"

#: xlsxwriter workbook options that keep every text a text.
XLSX_TEXT_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell that would start a formula prefixed with ``'``."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text_columns)
