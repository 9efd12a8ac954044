"""Calibration report: the world's aggregates beside the public figures of the domain brief.

Public counts are scaled by the ratio of the world's recognised sponsors to the register's
size at about the same time, so a 1,000-sponsor world is compared with a tenth-size
Netherlands. Written next to the data as ``calibration.json`` and ``calibration.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from pipelines.simulate.knowledge import knowledge_markdown, knowledge_time
from pipelines.simulate.typologies import (
    ARCHETYPES,
    LOOK_ALIKE_BEHAVIOURS,
    PUBLIC_PERMIT_SHARES,
    SECTORS,
    TYPOLOGIES,
    TYPOLOGY_NAMES,
)
from sponsorwatch.history import current

#: Recognised sponsors on the public register (brief: ~4,700 in 2018, 10,000-10,500 in
#: 2024, 12,885 on 1 July 2026).
PUBLIC_SPONSORS = {2018: 4700, 2024: 10250}
#: Permits for knowledge migrants (brief: 9,100 in 2016, 13,900 in 2017, ~13,000 in 2023).
PUBLIC_PERMITS = {2016: 9100, 2017: 13900, 2023: 13000}
#: Shares of non-EU labour migrants by sector (brief: business services 24%, ICT 23%); the
#: brief gives none for the other sectors.
PUBLIC_SECTOR_SHARES = PUBLIC_PERMIT_SHARES
#: Inspection hit rates: 16-25% overall 2007-2009; one third of risk-selected firms (2018).
PUBLIC_HIT_RATE_OVERALL = (0.16, 0.25)
PUBLIC_HIT_RATE_RISK = 1 / 3
#: Design range for RANDOM inspections (no public figure: they estimate prevalence).
DESIGN_HIT_RATE_RANDOM = (0.05, 0.15)
#: Revocations of recognition: 20 (2014) and 140 (2016), with roughly 4,700 sponsors.
PUBLIC_REVOCATIONS = (20, 140)
PUBLIC_REVOCATION_BASE_SPONSORS = 4700
#: The day the truth is summarised on (the training issue's evaluation day).
TRUTH_DAY = date(2024, 6, 30)


def _recognised_on(sponsors: pl.DataFrame, day: date) -> int:
    return sponsors.filter(
        (pl.col("recognised_on") <= day)
        & (pl.col("recognition_ended_on").is_null() | (pl.col("recognition_ended_on") > day))
    ).height


def _rate(frame: pl.DataFrame) -> float | None:
    closed = frame.filter(pl.col("outcome") != "OPEN")
    return None if closed.is_empty() else round(
        float((closed["outcome"] == "VIOLATION").mean()), 4)


def calibration(world: Any, *, n_sponsors: int, seed: int, start: date, end: date,
                row_counts: dict[str, int]) -> dict[str, Any]:
    """Aggregates of ``world`` (a ``World``) with the public figures they answer to."""
    tables = world.tables
    # Sponsors and inspections come in versions: the aggregates read what is known now.
    sponsors, permits = current("sponsors", tables["sponsors"]), tables["permits"]
    inspections, truth = current("inspections", tables["inspections"]), tables["truth"]
    years = list(range(start.year, end.year + 1))
    by_year = {y: _recognised_on(sponsors, date(y, 1, 1)) for y in [*years, end.year + 1]}
    anchor = date(2024, 1, 1) if start <= date(2024, 1, 1) <= end else date(end.year, 1, 1)
    scale = by_year.get(anchor.year, _recognised_on(sponsors, anchor)) / PUBLIC_SPONSORS[2024]

    submitted = permits.with_columns(year=pl.col("submitted_on").dt.year())
    permits_by_year = {
        int(r["year"]): {"applications": int(r["applications"]), "granted": int(r["granted"])}
        for r in submitted.group_by("year").agg(
            applications=pl.len(), granted=(pl.col("decision") == "GRANTED").sum())
        .sort("year").iter_rows(named=True) if start.year <= r["year"] <= end.year}

    sector_of = {code: s.name for s in SECTORS for code in s.sbi_codes}
    granted = (submitted.filter((pl.col("decision") == "GRANTED")
                                & pl.col("year").is_between(start.year, end.year))
               .join(sponsors.select("sponsor_id", "sbi_code"), on="sponsor_id")
               .with_columns(sector=pl.col("sbi_code").replace_strict(
                   sector_of, default="other")))
    shares = (granted.group_by("sector").len().with_columns(share=pl.col("len") / pl.col(
        "len").sum()).sort("sector"))
    sector_shares = {r["sector"]: round(float(r["share"]), 4) for r in shares.iter_rows(
        named=True)}

    selection_rates = {s: {"inspections": int(f.height), "hit_rate": _rate(f)}
                       for (s,), f in sorted(inspections.group_by("selection"),
                                             key=lambda kv: str(kv[0]))}
    ended = sponsors.filter(pl.col("recognition_end_reason").is_not_null()).with_columns(
        year=pl.col("recognition_ended_on").dt.year())
    ends = {str(r["recognition_end_reason"]): {int(y): 0 for y in years}
            for r in ended.select("recognition_end_reason").unique().iter_rows(named=True)}
    for r in ended.group_by("recognition_end_reason", "year").len().iter_rows(named=True):
        ends[str(r["recognition_end_reason"])][int(r["year"])] = int(r["len"])
    revoked_per_year = ends.get("REVOKED", {})
    revocation_scale = by_year[years[0]] / PUBLIC_REVOCATION_BASE_SPONSORS

    active_day = TRUTH_DAY if start <= TRUTH_DAY <= end else end
    active = sponsors.filter(
        (pl.col("recognised_on") <= active_day)
        & (pl.col("recognition_ended_on").is_null()
           | (pl.col("recognition_ended_on") > active_day))).select("sponsor_id")
    truth_active = active.join(truth, on="sponsor_id")
    # Abusing on the day: started by then, and not stopped before it.
    abusing = truth_active.filter(pl.col("is_abusive") & (pl.col("abuse_from") <= active_day)
                                  & (pl.col("abuse_until").is_null()
                                     | (pl.col("abuse_until") >= active_day)))
    typology_counts = {t: int(truth.filter(pl.col("typologies").list.contains(t)).height)
                       for t in TYPOLOGY_NAMES}
    profile = world.profile
    hard_negatives = {r["archetype"]: int(r["len"]) for r in profile.filter(
        pl.col("hard_negative")).group_by("archetype").len().sort("archetype").iter_rows(
        named=True)}
    abuse_by_sector = {r["sector"]: round(float(r["rate"]), 4) for r in profile.join(
        truth, on="sponsor_id").group_by("sector").agg(rate=pl.col("is_abusive").mean())
        .sort("sector").iter_rows(named=True)}

    comparisons = _comparisons(by_year, permits_by_year, sector_shares, selection_rates,
                               inspections, revoked_per_year, scale, revocation_scale)
    return {
        "parameters": {"n_sponsors": n_sponsors, "seed": seed, "start": str(start),
                       "end": str(end)},
        "scale": round(scale, 4),
        "comparisons": comparisons,
        "recognised_sponsors_on_1_january": {str(k): v for k, v in by_year.items()},
        "permits_by_year": {str(k): v for k, v in permits_by_year.items()},
        "migrant_sector_shares": sector_shares,
        "knowledge_time": knowledge_time(tables),
        "inspections_by_selection": selection_rates,
        "recognition_ends_by_year": {k: {str(y): n for y, n in v.items()}
                                     for k, v in sorted(ends.items())},
        "truth": {
            "abusive_share_all": round(float(truth["is_abusive"].mean()), 4),
            "day": str(active_day),
            "active_sponsors": active.height,
            "abusing_by_day": abusing.height,
            "abusing_share_by_day": round(abusing.height / max(active.height, 1), 4),
            "abusive_whose_abuse_stopped": int(truth.filter(
                pl.col("is_abusive") & pl.col("abuse_until").is_not_null()).height),
            "sponsors_per_typology": typology_counts,
            "abusive_share_by_sector": abuse_by_sector,
            "hard_negatives_by_archetype": hard_negatives,
        },
        "row_counts": dict(sorted(row_counts.items())),
    }


def _comparisons(by_year: dict[int, int], permits_by_year: dict[int, dict[str, int]],
                 sector_shares: dict[str, float], selection_rates: dict[str, dict[str, Any]],
                 inspections: pl.DataFrame, revoked: dict[int, int], scale: float,
                 revocation_scale: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(figure: str, world: Any, public: Any, expected: Any, source: str) -> None:
        rows.append({"figure": figure, "world": world, "public": public,
                     "expected_in_world": expected, "source": source})

    if 2024 in by_year:
        add("recognised sponsors, 1 January 2024", by_year[2024], PUBLIC_SPONSORS[2024],
            round(PUBLIC_SPONSORS[2024] * scale), "brief: 10,000-10,500 in 2024 (scale anchor)")
    if 2019 in by_year:
        add("growth of recognised sponsors 2019 -> 2024",
            round(by_year.get(2024, 0) / max(by_year[2019], 1), 2),
            round(PUBLIC_SPONSORS[2024] / PUBLIC_SPONSORS[2018], 2), "about 2",
            "brief: ~4,700 in 2018, 10,000-10,500 in 2024")
    if 2023 in permits_by_year:
        add("permit applications, 2023", permits_by_year[2023]["applications"],
            PUBLIC_PERMITS[2023], round(PUBLIC_PERMITS[2023] * scale), "brief: about 13,000")
    for sector in sorted(SECTORS, key=lambda s: -s.permit_share):
        public = PUBLIC_SECTOR_SHARES.get(sector.name)
        add(f"share of granted permits in {sector.name}", sector_shares.get(sector.name, 0.0),
            public, sector.permit_share,
            "brief: non-EU labour migrants by sector" if public is not None else
            "no public figure exists; design value")
    add("hit rate, RANDOM inspections", selection_rates.get("RANDOM", {}).get("hit_rate"),
        None, f"{DESIGN_HIT_RATE_RANDOM[0]:.0%}-{DESIGN_HIT_RATE_RANDOM[1]:.0%}",
        "design: unbiased prevalence of found violations")
    add("hit rate, RISK_BASED inspections",
        selection_rates.get("RISK_BASED", {}).get("hit_rate"), round(PUBLIC_HIT_RATE_RISK, 3),
        "25%-35%", "brief: one third of 24 risk-selected firms (2018)")
    add("hit rate, all inspections", _rate(inspections), f"{PUBLIC_HIT_RATE_OVERALL[0]:.0%}-"
        f"{PUBLIC_HIT_RATE_OVERALL[1]:.0%}", f"{PUBLIC_HIT_RATE_OVERALL[0]:.0%}-"
        f"{PUBLIC_HIT_RATE_OVERALL[1]:.0%}", "brief: 16% (2007), 22% (2008), 25% (2009)")
    if revoked:
        per_year = round(sum(revoked.values()) / len(revoked), 1)
        add("revocations per year (mean over the window)", per_year,
            f"{PUBLIC_REVOCATIONS[0]}-{PUBLIC_REVOCATIONS[1]}",
            f"{PUBLIC_REVOCATIONS[0] * revocation_scale:.0f}-"
            f"{PUBLIC_REVOCATIONS[1] * revocation_scale:.0f}",
            "brief: 20 (2014), 140 (2016), scaled by sponsors at the window's start")
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value < 1:
        return f"{value:.1%}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: comparisons first, then the world's own breakdowns."""
    p = report["parameters"]
    lines = [
        "# Calibration of the simulated world", "",
        f"{p['n_sponsors']:,} sponsors, seed {p['seed']}, {p['start']} to {p['end']}; public "
        f"counts scaled by {report['scale']:.3f} (world sponsors on 1 January 2024 against "
        "the register's ~10,250).", "",
        "| figure | world | public | expected in this world | source |",
        "|---|---|---|---|---|",
    ]
    for row in report["comparisons"]:
        lines.append(f"| {row['figure']} | {_cell(row['world'])} | {_cell(row['public'])} | "
                     f"{_cell(row['expected_in_world'])} | {row['source']} |")
    lines += ["", "## Recognised sponsors on 1 January", "", "| year | sponsors |", "|---|---|"]
    lines += [f"| {y} | {n:,} |" for y, n in report["recognised_sponsors_on_1_january"].items()]
    lines += ["", "## Permit applications per year", "", "| year | applications | granted |",
              "|---|---|---|"]
    lines += [f"| {y} | {v['applications']:,} | {v['granted']:,} |"
              for y, v in report["permits_by_year"].items()]
    lines += ["", "## Granted permits by sector", "",
              "| sector | share | public figure | design value |", "|---|---|---|---|"]
    design = {s.name: s.permit_share for s in SECTORS}
    lines += [f"| {s} | {v:.1%} | "
              + (f"{PUBLIC_SECTOR_SHARES[s]:.0%}" if s in PUBLIC_SECTOR_SHARES else "none exists")
              + f" | {design[s]:.1%} |" if s in design else f"| {s} | {v:.1%} | - | - |"
              for s, v in sorted(report["migrant_sector_shares"].items(), key=lambda kv: -kv[1])]
    lines += ["", "## Inspections by selection", "", "| selection | inspections | hit rate |",
              "|---|---|---|"]
    lines += [f"| {s} | {v['inspections']:,} | {_cell(v['hit_rate'])} |"
              for s, v in report["inspections_by_selection"].items()]
    lines += ["", "## Ends of recognition per year", ""]
    ends = report["recognition_ends_by_year"]
    if ends:
        years = sorted({y for v in ends.values() for y in v})
        lines += ["| reason | " + " | ".join(years) + " |",
                  "|---|" + "---|" * len(years)]
        lines += [f"| {r} | " + " | ".join(str(v.get(y, 0)) for y in years) + " |"
                  for r, v in ends.items()]
    t = report["truth"]
    lines += ["", "## Ground truth (evaluation only)", "",
              f"- abusive at some point: {t['abusive_share_all']:.1%} of all sponsors",
              f"- abusing on {t['day']}: {t['abusing_by_day']:,} of {t['active_sponsors']:,} "
              f"recognised sponsors ({t['abusing_share_by_day']:.1%})",
              f"- abuse stopped by the last day (abuse_until present): "
              f"{t.get('abusive_whose_abuse_stopped', 0):,} abusive sponsors (at revocation, "
              "at another end of recognition, after an inspection found it, or run its course)",
              "- sponsors per typology (overlapping): " + ", ".join(
                  f"{k} {v}" for k, v in t["sponsors_per_typology"].items()),
              "- abusive share by sector: " + ", ".join(
                  f"{k} {v:.1%}" for k, v in t["abusive_share_by_sector"].items()),
              "- honest look-alikes (hard negatives): " + ", ".join(
                  f"{k} {v}" for k, v in t["hard_negatives_by_archetype"].items()),
              "", *(knowledge_markdown(report["knowledge_time"])
                    if "knowledge_time" in report else []),
              "", *declared_world_markdown(), "", "## Rows", "", "| table | rows |",
              "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in report["row_counts"].items()]
    return "\n".join(lines) + "\n"


def declared_world_markdown() -> list[str]:
    """The typologies and look-alikes as declared in ``typologies.py``, as Markdown lines."""
    lines = ["## Abuse typologies as declared", "",
             "| typology | share | strength | months | detection | revocation | traces |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {t.name} | {t.share:.1%} | {t.strength:.0%} | {t.duration_months:g} | "
              f"{t.detection:.0%} | {t.revocation:.0%} | {t.traces} |" for t in TYPOLOGIES]
    lines += ["", "## Honest look-alikes as declared", "", "| archetype | where | what |",
              "|---|---|---|"]
    lines += [f"| {a.name} | " + ", ".join(f"{k} {v:.0%}" for k, v in
                                          a.sector_probability.items())
              + f" | {a.description} |" for a in ARCHETYPES if a.hard_negative]
    lines += ["", "Honest behaviours that look like abuse:", ""]
    lines += [f"- {b}" for b in LOOK_ALIKE_BEHAVIOURS]
    return lines
