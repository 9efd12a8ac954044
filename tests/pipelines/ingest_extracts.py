"""Hand-made extracts for the ingest tests: a clean one and a deliberately damaged one.

Rows are written as text exactly as a supplier would (CSV through the csv module, so
quotes, commas and newlines inside values are quoted properly); two tables are Parquet
(one a folder of files) to cover every delivery form.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import NamedTuple

import polars as pl

from sponsorwatch.contract import TABLES

Rows = list[dict[str, str | None]]

#: Names that must survive byte for byte: quotes, commas, newlines, accents, emoji.
TRICKY_NAMES = {
    "01234567": 'Café "Zon", B.V.\nAfdeling Noord 🌞',
    "12345678": 'Ærøskøbing ""Quoted"" Holding, N.V. 🚀',
    "23456789": "Ünïcødé\r\nLine, \"x\" 👩\u200d💻",
}


def sponsor(sponsor_id: str | None, **overrides: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "sponsor_id": sponsor_id, "name": TRICKY_NAMES.get(sponsor_id or "", "Plain B.V."),
        "legal_form": "BV", "sbi_code": "6201", "postcode4": "1012",
        "founded_on": "2010-01-01", "recognised_on": "2015-01-01",
        "recognition_ended_on": None, "recognition_end_reason": None}
    row.update(overrides)
    return row


def permit(application_id: str, sponsor_id: str, **overrides: str | None
           ) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "application_id": application_id, "sponsor_id": sponsor_id, "person_key": "p1",
        "scheme": "KM_REGULAR", "submitted_on": "2020-01-10", "decided_on": "2020-02-01",
        "decision": "GRANTED", "age_at_submission": "34", "declared_monthly_salary": "5600.00",
        "declared_weekly_hours": "40", "isco_code": "2512", "valid_from": "2020-03-01",
        "valid_until": "2025-03-01", "nationality": "IND"}
    row.update(overrides)
    return row


def pay(sponsor_id: str, person_key: str, period: str, **overrides: str | None
        ) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "sponsor_id": sponsor_id, "person_key": person_key, "period": period,
        "gross_wage": "5600.00", "hours_paid": "173.33", "filed_on": "2024-02-05",
        "is_correction": "false"}
    row.update(overrides)
    return row


def clean_rows() -> dict[str, Rows]:
    """A small extract that breaks no rule."""
    ids = list(TRICKY_NAMES)
    return {
        "sponsors": [sponsor(i) for i in ids],
        "sponsor_officers": [
            {"sponsor_id": ids[0], "officer_key": "o1", "role": "DIRECTOR",
             "from_date": "2010-01-01", "to_date": None},
            {"sponsor_id": ids[1], "officer_key": "o2", "role": "OWNER",
             "from_date": "2011-05-01", "to_date": "2019-12-31"}],
        "permits": [permit("A1", ids[0]), permit("A2", ids[1], person_key="p2"),
                    permit("A3", ids[2], person_key="p3", decided_on=None, decision="PENDING",
                           valid_from=None, valid_until=None)],
        "payroll": [pay(ids[0], "p1", "2024-01-01"), pay(ids[1], "p2", "2024-01-01"),
                    pay(ids[0], "p1", "2024-01-01", filed_on="2024-03-01",
                        is_correction="true", gross_wage="5700.5")],
        "workforce": [
            {"sponsor_id": ids[0], "period": "2024-01-01", "headcount": "12",
             "total_gross_wage": "61000.00", "filed_on": "2024-02-05",
             "is_correction": "false"}],
        "notifications": [
            {"notification_id": "N1", "sponsor_id": ids[0], "person_key": "p1",
             "kind": "EMPLOYMENT_ENDED", "event_on": "2024-04-30", "filed_on": "2024-05-10"}],
        "inspections": [
            {"inspection_id": "I1", "sponsor_id": ids[1], "opened_on": "2023-01-10",
             "closed_on": "2023-03-01", "selection": "RANDOM", "outcome": "VIOLATION",
             "findings": "UNDERPAYMENT;SALARY_REPAYMENT", "fine_eur": "12000.00"},
            {"inspection_id": "I2", "sponsor_id": ids[0], "opened_on": "2024-06-01",
             "closed_on": None, "selection": "TIP", "outcome": "OPEN", "findings": None,
             "fine_eur": None}],
    }


def csv_text(rows: Rows, columns: list[str] | None = None) -> str:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


def typed_frame(table: str, rows: Rows) -> pl.DataFrame:
    """Rows of text parsed to contract types (only for rows that parse)."""
    schema = TABLES[table].schema
    parsed: list[dict[str, object]] = []
    for row in rows:
        out: dict[str, object] = {}
        for name, dtype in schema.items():
            value = row.get(name)
            if value is None:
                out[name] = None
            elif dtype == pl.Date():
                out[name] = dt.date.fromisoformat(value)
            elif dtype == pl.Int64():
                out[name] = int(value)
            elif dtype == pl.Float64():
                out[name] = float(value)
            elif dtype == pl.Boolean():
                out[name] = value == "true"
            elif isinstance(dtype, pl.List):
                out[name] = value.split(";")
            else:
                out[name] = value
        parsed.append(out)
    return pl.DataFrame(parsed, schema=schema, orient="row")


def write_extract(folder: Path, rows: dict[str, Rows], *, parquet: tuple[str, ...] = (),
                  folders: tuple[str, ...] = (), bom: tuple[str, ...] = ()) -> Path:
    """Write each table as CSV, except ``parquet`` tables (one typed file) and ``folders``
    tables (a folder of one typed file per row)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, table_rows in rows.items():
        if table in folders:
            (folder / table).mkdir()
            for i, row in enumerate(table_rows):
                typed_frame(table, [row]).write_parquet(folder / table / f"part-{i:03}.parquet")
        elif table in parquet:
            typed_frame(table, table_rows).write_parquet(folder / f"{table}.parquet")
        else:
            text = csv_text(table_rows)
            data = (("\ufeff" if table in bom else "") + text).encode("utf-8")
            (folder / f"{table}.csv").write_bytes(data)
    return folder


class Damaged(NamedTuple):
    """What the damaged extract must give, per table and 1-based source row: the rules a
    quarantined row breaks, and the reason a held row is held."""

    quarantined: dict[str, dict[int, set[str]]]
    held: dict[str, dict[int, str]]


#: The sponsor delivered twice with the same key in the damaged extract (both rows
#: quarantined): its payroll rows are held, not lost.
TWIN_SPONSOR = "34567890"


def damaged_rows() -> tuple[dict[str, Rows], Damaged]:
    """A damaged extract and what each damaged row must give (see :class:`Damaged`)."""
    rows = clean_rows()
    ids = list(TRICKY_NAMES)
    expected: dict[str, dict[int, set[str]]] = {}
    held: dict[str, dict[int, str]] = {}

    def add(table: str, row: dict[str, str | None], rules: set[str]) -> None:
        rows[table].append(row)
        if rules:
            expected.setdefault(table, {})[len(rows[table])] = rules

    def hold(table: str, row: dict[str, str | None], reason: str) -> None:
        rows[table].append(row)
        held.setdefault(table, {})[len(rows[table])] = reason

    # sponsors: the unknown extra column `register_name` rides along on every row; the
    # optional column address_key is left out entirely (see write_damaged)
    for row in rows["sponsors"]:
        row["register_name"] = "from the register"
    add("sponsors", sponsor("1234567"), {"sponsor_id_format"})
    add("sponsors", sponsor(None), {"sponsor_id_not_null"})
    add("sponsors", sponsor(TWIN_SPONSOR), {"key_unique"})
    add("sponsors", sponsor(TWIN_SPONSOR, name="Twin"), {"key_unique"})
    add("sponsors", sponsor("45678901", legal_form="LTD"), {"legal_form_in_set"})
    add("sponsors", sponsor("56789012", founded_on="01-02-2010"), {"founded_on_parseable"})
    add("sponsors", sponsor("67890123", recognised_on="2009-12-31"),
        {"recognised_on_not_before_founded_on"})
    add("sponsors", sponsor("78901234", recognition_end_reason="REVOKED"),
        {"recognition_end_reason_present_exactly_when_recognition_ended_on"})

    # Decided before submitted: no rule of the contract's page forbids it, so a warning
    # (`decided_before_submitted`), counted and kept.
    add("permits", permit("B1", ids[0], decided_on="2020-01-01"), set())
    add("permits", permit("B2", ids[0], age_at_submission="12"), {"age_at_submission_in_range"})
    add("permits", permit("B3", ids[0], age_at_submission="150"),
        {"age_at_submission_in_range"})
    add("permits", permit("B4", ids[0], scheme="KM_SPECIAL"), {"scheme_in_set"})
    hold("permits", permit("B5", "99999999"), "sponsor_id unknown")
    add("permits", permit("B6", ids[0], declared_monthly_salary="5.000,00"),
        {"declared_monthly_salary_parseable"})
    add("permits", permit("B7", ids[0], decision="PENDING"),
        {"decision_pending_exactly_when_decided_on_null"})
    add("permits", permit("B8", ids[0], valid_from=None),
        {"validity_present_when_granted"})
    add("permits", permit("B9", ids[0], nationality="ind"), {"nationality_format"})
    add("permits", permit("A1", ids[1]), {"application_id_unique"})
    expected["permits"][1] = {"application_id_unique"}  # the clean A1 is now a duplicate

    add("payroll", pay(ids[1], "p9", "2024-02-01", gross_wage="-100.00"),
        {"gross_wage_in_range"})
    add("payroll", pay(ids[1], "p9", "2024-03-15", filed_on="2024-04-05"),
        {"period_first_of_month"})
    add("payroll", pay(ids[1], "p9", "2024-05-01", filed_on="2024-04-20"),
        {"filed_on_not_before_period"})
    add("payroll", pay(ids[1], "p9", "2024-01-01", gross_wage="5.000,00"),
        {"gross_wage_parseable"})
    add("payroll", pay(ids[1], "p9", "01-06-2024"), {"period_parseable"})
    # Rows whose sponsor is unknown or quarantined are held; "1234567" is no KvK number,
    # but payroll's sponsor_id has no format rule: it is a sponsor quarantined above.
    hold("payroll", pay("99999999", "p9", "2024-01-01"), "sponsor_id unknown")
    hold("payroll", pay("1234567", "p9", "2024-01-01"), "sponsor quarantined")
    hold("payroll", pay(TWIN_SPONSOR, "p5", "2024-01-01"), "sponsor quarantined")
    hold("payroll", pay(TWIN_SPONSOR, "p5", "2024-02-01", filed_on="2024-03-05"),
         "sponsor quarantined")
    # Unknown sponsor and a rule of its own broken: quarantined (for both), not held.
    add("payroll", pay("88888888", "p6", "2024-01-01", gross_wage="-5"),
        {"gross_wage_in_range", "sponsor_id_known_in_sponsors"})
    add("payroll", pay(ids[2], "p8", "2024-01-01"), {"key_unique"})
    add("payroll", pay(ids[2], "p8", "2024-01-01", gross_wage="6000"), {"key_unique"})
    add("payroll", pay(ids[2], "p7", "2024-01-01", is_correction="maybe"),
        {"is_correction_parseable"})

    add("workforce", {"sponsor_id": ids[1], "period": "2024-01-01", "headcount": "-1",
                      "total_gross_wage": "1000", "filed_on": "2024-02-05",
                      "is_correction": "false"}, {"headcount_in_range"})

    # Lawful advance notice (filed before the event): unusual, counted, never quarantined.
    add("notifications", {"notification_id": "N2", "sponsor_id": ids[0], "person_key": None,
                          "kind": "SPONSOR_CHANGED", "event_on": "2024-05-10",
                          "filed_on": "2024-05-01"}, set())
    add("inspections", {"inspection_id": "I3", "sponsor_id": ids[2], "opened_on": "2023-01-10",
                        "closed_on": "2023-02-01", "selection": "RANDOM",
                        "outcome": "OPEN", "findings": "UNDERPAYMENT;BRIBERY",
                        "fine_eur": "100"},
        {"findings_in_set", "outcome_open_exactly_when_closed_on_null"})
    return rows, Damaged(expected, held)


def write_damaged(folder: Path) -> Damaged:
    """Write the damaged extract (sponsors CSV with a BOM and without the optional
    address_key column; workforce Parquet; officers a folder of Parquet files)."""
    rows, expected = damaged_rows()
    workforce_good, workforce_bad = rows["workforce"][:1], rows["workforce"][1:]
    write_extract(folder, {k: v for k, v in rows.items() if k != "workforce"},
                  folders=("sponsor_officers",), bom=("sponsors",))
    frame = pl.concat([typed_frame("workforce", workforce_good),
                       typed_frame("workforce", workforce_bad)])
    frame.write_parquet(folder / "workforce.parquet")
    return expected
