"""History and links: earlier inspections, and ties to sponsors whose recognition was
revoked (shared address or officer), and migrants who run the company they work for."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from features.context import Context, Part, per_sponsor
from features.spec import Feature

FAMILY = "links"

FEATURES = (
    Feature("past_inspections", FAMILY, "Inspections of the sponsor closed by this day",
            "count", 0, fill=0.0),
    Feature("past_violations", FAMILY,
            "Inspections of the sponsor closed with a violation by this day", "count", 1,
            fill=0.0),
    Feature("past_fines_eur", FAMILY, "Fines of inspections closed by this day", "euro", 1,
            fill=0.0),
    Feature("address_shared_with_revoked", FAMILY,
            "Other sponsors at the same address whose recognition was revoked by this day",
            "count", 1, fill=0.0),
    Feature("sponsors_at_address", FAMILY,
            "Other recognised sponsors (past or present) at the same address", "count", 1,
            fill=0.0),
    Feature("officer_shared_with_revoked", FAMILY,
            "Sponsors revoked by this day that share an officer with this sponsor", "count", 1,
            fill=0.0),
    Feature("officer_other_sponsors", FAMILY,
            "Other recognised sponsors that share an officer with this sponsor", "count", 1,
            fill=0.0),
    Feature("migrant_officers", FAMILY,
            "Migrants of the sponsor who are also its officers", "count", 1, fill=0.0),
)

FEATURE_NAMES = tuple(f.name for f in FEATURES)


def _history(ctx: Context) -> pl.LazyFrame:
    return ctx.known["inspections"].group_by("sponsor_id").agg(
        pl.len().cast(pl.Float64).alias("past_inspections"),
        (pl.col("outcome") == "VIOLATION").sum().cast(pl.Float64).alias("past_violations"),
        pl.col("fine_eur").sum().cast(pl.Float64).alias("past_fines_eur"),
    )


def _known_sponsors(ctx: Context) -> pl.LazyFrame:
    """Every sponsor recognised by T, active or not, flagged when revoked by T."""
    return ctx.known["sponsors"].filter(pl.col("recognised_on").is_not_null()).select(
        "sponsor_id", "address_key",
        (pl.col("recognition_end_reason") == "REVOKED").fill_null(False).alias("revoked"))


def _linked(pairs: pl.LazyFrame, prefix: str) -> pl.LazyFrame:
    """Counts over (sponsor_id, other_id, other_revoked) pairs of distinct sponsors."""
    return (pairs.filter(pl.col("sponsor_id") != pl.col("other_id"))
            .unique(["sponsor_id", "other_id"])
            .group_by("sponsor_id")
            .agg(pl.col("other_revoked").sum().cast(pl.Float64)
                 .alias(f"{prefix}_shared_with_revoked"),
                 pl.len().cast(pl.Float64).alias(f"{prefix}_others")))


def _address_links(ctx: Context) -> pl.LazyFrame:
    """Counted per address, then less the sponsor itself: one address per sponsor, so no
    pairs (a virtual office holds thousands of sponsors in a large world)."""
    known = _known_sponsors(ctx).filter(pl.col("address_key").is_not_null())
    at_address = known.group_by("address_key").agg(
        pl.len().alias("known_at_address"), pl.col("revoked").sum().alias("revoked_at_address"))
    itself = known.select("sponsor_id", "address_key", pl.lit(1).alias("self_known"),
                          pl.col("revoked").cast(pl.UInt32).alias("self_revoked"))
    return (ctx.sponsors.select("sponsor_id", "address_key")
            .join(at_address, on="address_key", how="inner")
            .join(itself, on=["sponsor_id", "address_key"], how="left")
            .select("sponsor_id",
                    (pl.col("revoked_at_address") - pl.col("self_revoked").fill_null(0))
                    .cast(pl.Float64).alias("address_shared_with_revoked"),
                    (pl.col("known_at_address") - pl.col("self_known").fill_null(0))
                    .cast(pl.Float64).alias("sponsors_at_address")))


def _officer_links(ctx: Context) -> pl.LazyFrame:
    """Distinct sponsors sharing an officer. These are pairs (a sponsor and a trust
    office's director share several officers at times), so they are formed on integer codes
    rather than on the identifiers: a director may sit at thousands of sponsors."""
    codes = _known_sponsors(ctx).select("sponsor_id", "revoked").with_row_index("code")
    officers = (ctx.known["sponsor_officers"].select("sponsor_id", "officer_key").unique()
                .join(codes.select("sponsor_id", "code"), on="sponsor_id", how="inner")
                .select("code", pl.col("officer_key").rank("dense").alias("officer")))
    active = ctx.sponsors.select("sponsor_id").join(codes, on="sponsor_id", how="inner")
    others = officers.join(codes.select("code", pl.col("revoked").alias("other_revoked")),
                           on="code").rename({"code": "other_id"})
    pairs = (officers.join(active.select(pl.col("code")), on="code")
             .rename({"code": "sponsor_id"}).join(others, on="officer"))
    linked = _linked(pairs, "officer").rename({"officer_others": "officer_other_sponsors",
                                               "sponsor_id": "code"})
    return linked.join(codes.select("code", "sponsor_id"), on="code").drop("code")


def _migrant_officers(ctx: Context) -> pl.LazyFrame:
    migrants = ctx.permits.select("sponsor_id", "person_key").unique()
    officers = ctx.known["sponsor_officers"].select(
        "sponsor_id", pl.col("officer_key").alias("person_key")).unique()
    return (migrants.join(officers, on=["sponsor_id", "person_key"], how="inner")
            .group_by("sponsor_id")
            .agg(pl.len().cast(pl.Float64).alias("migrant_officers")))


PARTS: tuple[Part, ...] = (
    (_history, ("past_inspections", "past_violations", "past_fines_eur")),
    (_address_links, ("address_shared_with_revoked", "sponsors_at_address")),
    (_officer_links, ("officer_shared_with_revoked", "officer_other_sponsors")),
    (_migrant_officers, ("migrant_officers",)),
)


def compute(ctx: Context, names: Collection[str] = FEATURE_NAMES) -> pl.LazyFrame:
    """History and link features per active sponsor (those of ``names``)."""
    return per_sponsor(ctx, PARTS, names)
