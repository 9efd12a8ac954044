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


#: An officer at more sponsors than this is a hub (a trust office's director sits at
#: thousands in a large world): no pairs are formed in a hub's group; the union of a
#: sponsor's hub groups is counted once per distinct set of hubs instead.
HUB_SPONSORS = 64


def _officer_links(ctx: Context) -> pl.LazyFrame:
    """Distinct sponsors sharing an officer, per active sponsor (see :func:`officer_links`)."""
    codes = _known_sponsors(ctx).select("sponsor_id", "revoked").with_row_index("code")
    memberships = ctx.known["sponsor_officers"].select("sponsor_id", "officer_key")
    return officer_links(codes, memberships, ctx.sponsors.select("sponsor_id"))


def officer_links(codes: pl.LazyFrame, memberships: pl.LazyFrame, active: pl.LazyFrame,
                  hub_sponsors: int = HUB_SPONSORS) -> pl.LazyFrame:
    """Per active sponsor: how many other known sponsors share at least one officer with it
    (each counted once, however many officers they share) and how many of them were revoked.

    Args:
        codes: ``code, sponsor_id, revoked``, one row per known sponsor.
        memberships: ``sponsor_id, officer_key`` rows (duplicates allowed).
        active: ``sponsor_id`` of the sponsors to give features to.
        hub_sponsors: officers at more sponsors than this are hubs; the result is the
            same for any value, only the work differs.

    Returns:
        ``sponsor_id, officer_shared_with_revoked, officer_other_sponsors`` (Float64), for
        the active sponsors linked to at least one other.

    The linked set of sponsor s is the union of its officers' groups less s itself. Pairs
    are formed only within small groups (at most ``hub_sponsors`` members, so linear in
    the rows); the union of s's hub groups is counted once per distinct set of hubs (few:
    hubs are few), and a pair from a small group is dropped where its other sponsor is
    already in that union, so nobody is counted twice.
    """
    members = (memberships.filter(pl.col("officer_key").is_not_null()).unique()
               .join(codes.select("sponsor_id", "code", "revoked"), on="sponsor_id",
                     how="inner")
               .select("code", "revoked", pl.col("officer_key").rank("dense").alias("officer"))
               .with_columns((pl.len().over("officer") > hub_sponsors).alias("hub"))
               .cache())
    mine = members.join(active.join(codes.select("sponsor_id", "code"), on="sponsor_id")
                        .select("code").unique(), on="code", how="semi")
    # the union of each distinct set of hubs a sponsor sits with
    hubs_of = (mine.filter("hub").group_by("code")
               .agg(pl.col("officer").sort().cast(pl.String).str.join(",").alias("hubs"))
               .cache())
    in_union = (mine.filter("hub").join(hubs_of, on="code").select("hubs", "officer")
                .unique()
                .join(members.filter("hub").select("officer", "code", "revoked"), on="officer")
                .unique(["hubs", "code"]).select("hubs", "code", "revoked")
                .cache())
    union = in_union.group_by("hubs").agg(pl.len().alias("union_size"),
                                          pl.col("revoked").sum().alias("union_revoked"))
    via_hubs = (hubs_of.join(union, on="hubs")
                .join(codes.select("code", "revoked"), on="code")
                .select("code", (pl.col("union_size") - 1).alias("n"),
                        (pl.col("union_revoked") - pl.col("revoked").cast(pl.UInt32))
                        .alias("r")))
    small = members.filter(~pl.col("hub"))
    pairs = (mine.filter(~pl.col("hub")).select("code", "officer")
             .join(small.select("officer", pl.col("code").alias("other"),
                                pl.col("revoked").alias("other_revoked")), on="officer")
             .filter(pl.col("code") != pl.col("other"))
             .unique(["code", "other"])
             .join(hubs_of, on="code", how="left")
             .join(in_union.select("hubs", pl.col("code").alias("other")),
                   on=["hubs", "other"], how="anti"))
    via_small = pairs.group_by("code").agg(pl.len().alias("n"),
                                           pl.col("other_revoked").sum().alias("r"))
    linked = (pl.concat([via_hubs, via_small], how="vertical_relaxed")
              .group_by("code").agg(pl.col("n").sum(), pl.col("r").sum())
              .filter(pl.col("n") > 0))
    return linked.join(codes.select("code", "sponsor_id"), on="code").select(
        "sponsor_id", pl.col("r").cast(pl.Float64).alias("officer_shared_with_revoked"),
        pl.col("n").cast(pl.Float64).alias("officer_other_sponsors"))


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
    """History and link features per active sponsor (those of ``names``); computed on the
    whole world, not in shards (links count other sponsors; the rest is cheap)."""
    return per_sponsor(ctx, PARTS, names, sharded=False)
