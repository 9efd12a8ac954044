"""The calibration report's knowledge-time section: how often the world's records come in
more than one version, and how late they were recorded (contract version 2).

Everything is measured on the written tables, not on the simulator's own arrays, so the
section also checks that the versions say what ``pipelines.simulate.versions`` meant.
"""

from __future__ import annotations

from typing import Any

import polars as pl

#: A revocation recorded more than this many days after its effect counts as retroactive
#: (decided months later with effect back in time), not merely recorded late.
RETROACTIVE_AFTER_DAYS = 56
_REVOCATIONS = ("REVOKED", "SUSPENDED")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _delays(frame: pl.DataFrame, later: str, earlier: str) -> pl.Series:
    return (frame[later] - frame[earlier]).dt.total_days()


def _median(days: pl.Series) -> float | None:
    return None if days.is_empty() else float(days.median())  # type: ignore[arg-type]


def _changed(column: str) -> pl.Expr:
    """True where a version's ``column`` differs from the sponsor's previous version."""
    before = pl.col(column).shift().over("sponsor_id")
    return before.is_not_null() & pl.col(column).ne_missing(before)


def knowledge_time(tables: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Shares of versioned records, and the delays with which they were recorded."""
    sponsors = tables["sponsors"].sort("sponsor_id", "recorded_on")
    per_sponsor = sponsors.with_columns(
        moved=_changed("address_key"), sbi=_changed("sbi_code"), renamed=_changed("name"),
    ).group_by("sponsor_id").agg(versions=pl.len(), moved=pl.col("moved").any(),
                                 sbi=pl.col("sbi").any(), renamed=pl.col("renamed").any())
    n = per_sponsor.height
    # The first version that carries the end of recognition: when the IND recorded it.
    ends = (sponsors.filter(pl.col("recognition_ended_on").is_not_null())
            .group_by("sponsor_id").first())
    end_delay = _delays(ends, "recorded_on", "recognition_ended_on")
    revocations = ends.filter(pl.col("recognition_end_reason").is_in(_REVOCATIONS))
    revocation_delay = _delays(revocations, "recorded_on", "recognition_ended_on")
    late = revocation_delay.filter(revocation_delay > 0)

    officers = tables["sponsor_officers"].sort("recorded_on")
    appointments = officers.group_by("sponsor_id", "officer_key", "role", "from_date").first()
    appointment_delay = _delays(appointments, "recorded_on", "from_date")
    late_officers = appointment_delay.filter(appointment_delay > 0)
    resignations = (officers.filter(pl.col("to_date").is_not_null())
                    .group_by("sponsor_id", "officer_key", "role", "from_date").first())
    resignation_delay = _delays(resignations, "recorded_on", "to_date")

    inspections = tables["inspections"]
    per_inspection = inspections.group_by("inspection_id").agg(
        versions=pl.len(), planned=pl.col("plan_id").is_not_null().any(),
        closed=pl.col("closed_on").is_not_null().any(),
        closings=pl.struct("outcome", "fine_eur").filter(pl.col("closed_on").is_not_null())
        .n_unique(),
        annulled=(pl.col("outcome").sort_by("recorded_on").last() == "NO_VIOLATION")
        & (pl.col("outcome") == "VIOLATION").any())
    closed = per_inspection.filter(pl.col("closed"))
    appealed = closed.filter(pl.col("closings") > 1)
    return {
        "sponsors": n,
        "sponsors_with_more_than_one_version": _share(
            per_sponsor.filter(pl.col("versions") > 1).height, n),
        "sponsors_that_moved": _share(int(per_sponsor["moved"].sum()), n),
        "sponsors_that_changed_sbi_code": _share(int(per_sponsor["sbi"].sum()), n),
        "sponsors_renamed": _share(int(per_sponsor["renamed"].sum()), n),
        "recognition_ends_recorded": ends.height,
        "recognition_ends_median_delay_days": _median(end_delay),
        "revocations_recorded": revocations.height,
        "revocations_recorded_late": _share(late.len(), revocations.height),
        "revocations_median_delay_days": _median(late),
        "revocations_retroactive": _share(
            int((revocation_delay > RETROACTIVE_AFTER_DAYS).sum()), revocations.height),
        "officer_appointments": appointments.height,
        "officers_registered_late": _share(late_officers.len(), appointments.height),
        "officers_median_delay_days": _median(late_officers),
        "officers_registered_over_4_weeks_late": _share(
            int((appointment_delay > 28).sum()), appointments.height),
        "resignations_median_delay_days": _median(resignation_delay),
        "inspections": per_inspection.height,
        "inspections_with_plan_id": _share(int(per_inspection["planned"].sum()),
                                           per_inspection.height),
        "inspections_closed": closed.height,
        "outcomes_changed_on_appeal": _share(appealed.height, closed.height),
        "violations_annulled_on_appeal": _share(int(appealed["annulled"].sum()),
                                                closed.height),
    }


def knowledge_markdown(section: dict[str, Any]) -> list[str]:
    """The section as Markdown lines (shares of the records they are a share of)."""
    def pct(key: str) -> str:
        value = section.get(key)
        return "-" if value is None else f"{value:.1%}"

    def days(key: str) -> str:
        value = section.get(key)
        return "-" if value is None else f"{value:g} days"

    return [
        "## Knowledge time: versions and when they were recorded", "",
        "| what | share | of | median delay |", "|---|---|---|---|",
        f"| sponsors with more than one version | {pct('sponsors_with_more_than_one_version')}"
        f" | {section['sponsors']:,} sponsors | |",
        f"| sponsors that moved (new address) | {pct('sponsors_that_moved')} | sponsors | |",
        f"| sponsors that changed SBI code | {pct('sponsors_that_changed_sbi_code')} | "
        "sponsors | |",
        f"| sponsors renamed | {pct('sponsors_renamed')} | sponsors | |",
        f"| ends of recognition, recorded after their effect | | "
        f"{section['recognition_ends_recorded']:,} ends | "
        f"{days('recognition_ends_median_delay_days')} |",
        f"| revocations recorded late | {pct('revocations_recorded_late')} | "
        f"{section['revocations_recorded']:,} revocations and suspensions | "
        f"{days('revocations_median_delay_days')} |",
        f"| revocations retroactive (effect over {RETROACTIVE_AFTER_DAYS} days before the "
        f"record) | {pct('revocations_retroactive')} | revocations and suspensions | |",
        f"| officer appointments registered late | {pct('officers_registered_late')} | "
        f"{section['officer_appointments']:,} appointments | "
        f"{days('officers_median_delay_days')} |",
        f"| officer appointments registered over 4 weeks late | "
        f"{pct('officers_registered_over_4_weeks_late')} | appointments | |",
        f"| resignations registered after to_date | | | "
        f"{days('resignations_median_delay_days')} |",
        f"| inspection outcomes changed on objection or appeal | "
        f"{pct('outcomes_changed_on_appeal')} | {section['inspections_closed']:,} closed "
        "inspections | |",
        f"| violations annulled on objection or appeal | "
        f"{pct('violations_annulled_on_appeal')} | closed inspections | |",
        f"| inspections with a plan_id (RANDOM, RISK_BASED) | "
        f"{pct('inspections_with_plan_id')} | {section['inspections']:,} inspections | |",
    ]
