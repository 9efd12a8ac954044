"""Labels per the contract: 1 on a violation in (T, T+H], 0 when every closed one was clean,
unknown otherwise; outcomes learned after the cut-off are not known."""

from __future__ import annotations

from datetime import date

import polars as pl

from training.fitting.labels import build_labels, labelable_dates

T = date(2023, 1, 1)


def _inspections(*rows: tuple[str, str, str | None, str, str]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [{"inspection_id": f"i{n}", "sponsor_id": s, "opened_on": date.fromisoformat(o),
          "closed_on": date.fromisoformat(c) if c else None, "selection": sel, "outcome": out}
         for n, (s, o, c, sel, out) in enumerate(rows)],
        schema={"inspection_id": pl.String, "sponsor_id": pl.String, "opened_on": pl.Date,
                "closed_on": pl.Date, "selection": pl.String, "outcome": pl.String})


def _labels(lf: pl.LazyFrame, **kw: object) -> dict[str, tuple[int | None, str]]:
    out = build_labels(lf, [T], 12, **kw).collect()
    return {r["sponsor_id"]: (r["label"], r["selection"]) for r in out.iter_rows(named=True)}


def test_violation_clean_and_unknown_follow_the_contract() -> None:
    lf = _inspections(
        ("A", "2023-03-01", "2023-04-01", "RISK_BASED", "VIOLATION"),
        ("B", "2023-03-01", "2023-04-01", "RANDOM", "NO_VIOLATION"),
        ("C", "2023-03-01", "2023-04-01", "RISK_BASED", "INCONCLUSIVE"),
        ("D", "2023-03-01", None, "TIP", "OPEN"),
        # clean and inconclusive in one window: not every closed one was clean -> unknown
        ("E", "2023-03-01", "2023-04-01", "RISK_BASED", "NO_VIOLATION"),
        ("E", "2023-05-01", "2023-06-01", "RISK_BASED", "INCONCLUSIVE"),
        # a violation wins over a clean one; the violation's selection is reported
        ("F", "2023-02-01", "2023-03-01", "RANDOM", "NO_VIOLATION"),
        ("F", "2023-06-01", "2023-07-01", "TIP", "VIOLATION"),
    )
    labels = _labels(lf)
    assert labels["A"] == (1, "RISK_BASED")
    assert labels["B"] == (0, "RANDOM")
    assert labels["C"][0] is None
    assert labels["D"][0] is None
    assert labels["E"][0] is None
    assert labels["F"] == (1, "TIP")


def test_window_is_open_at_start_and_closed_at_end() -> None:
    lf = _inspections(
        ("on_T", "2023-01-01", "2023-02-01", "RANDOM", "VIOLATION"),
        ("at_end", "2024-01-01", "2024-02-01", "RANDOM", "VIOLATION"),
        ("after", "2024-01-02", "2024-02-01", "RANDOM", "VIOLATION"),
    )
    labels = _labels(lf)
    assert "on_T" not in labels  # opened on T itself: history, not a label
    assert labels["at_end"][0] == 1
    assert "after" not in labels


def test_outcome_closed_after_cut_off_is_unknown() -> None:
    lf = _inspections(("A", "2023-03-01", "2023-09-01", "RANDOM", "VIOLATION"))
    assert _labels(lf, known_until=date(2023, 8, 31))["A"][0] is None
    assert _labels(lf, known_until=date(2023, 9, 1))["A"][0] == 1


def test_labelable_dates_need_the_whole_window() -> None:
    dates = [date(2022, 6, 30), date(2023, 6, 30), date(2023, 7, 1)]
    assert labelable_dates(dates, 12, date(2024, 6, 30)) == dates[:2]
