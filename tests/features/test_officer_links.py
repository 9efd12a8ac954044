"""Officer links without pairs in hub groups (features.links.officer_links) give exactly the
counts of the pair-forming implementation they replaced, kept here as the reference."""

from __future__ import annotations

import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.links import HUB_SPONSORS, officer_links
from tests.features.world import D, World, features_by_sponsor

T = D(2024, 1, 15)


def reference_officer_links(codes: pl.LazyFrame, memberships: pl.LazyFrame,
                            active: pl.LazyFrame) -> pl.LazyFrame:
    """The implementation before hubs: every pair of sponsors in every officer's group."""
    officers = (memberships.select("sponsor_id", "officer_key").unique()
                .join(codes.select("sponsor_id", "code"), on="sponsor_id", how="inner")
                .select("code", pl.col("officer_key").rank("dense").alias("officer")))
    active = active.select("sponsor_id").join(codes, on="sponsor_id", how="inner")
    others = officers.join(codes.select("code", pl.col("revoked").alias("other_revoked")),
                           on="code").rename({"code": "other_id"})
    pairs = (officers.join(active.select(pl.col("code")), on="code")
             .rename({"code": "sponsor_id"}).join(others, on="officer"))
    linked = (pairs.filter(pl.col("sponsor_id") != pl.col("other_id"))
              .unique(["sponsor_id", "other_id"])
              .group_by("sponsor_id")
              .agg(pl.col("other_revoked").sum().cast(pl.Float64)
                   .alias("officer_shared_with_revoked"),
                   pl.len().cast(pl.Float64).alias("officer_other_sponsors"))
              .rename({"sponsor_id": "code"}))
    return linked.join(codes.select("code", "sponsor_id"), on="code").drop("code")


def random_world(seed: int, sponsors: int = 400) -> tuple[pl.LazyFrame, ...]:
    """Known sponsors (some revoked, one id twice), active ones, and officers: hubs at
    many sponsors that overlap each other, and small groups that overlap the hubs'."""
    rng = random.Random(seed)
    ids = [f"S{i:05d}" for i in range(sponsors)]
    known = [*ids[: sponsors - 20], ids[7]]  # the last 20 are unknown; S00007 twice
    codes = pl.LazyFrame({"sponsor_id": known,
                          "revoked": [rng.random() < 0.2 for _ in known]}).with_row_index("code")
    active = pl.LazyFrame({"sponsor_id": [s for s in ids if rng.random() < 0.8]})
    rows: list[tuple[str, str]] = []
    hub_members = rng.sample(ids, sponsors // 2)
    for hub in range(4):  # directors of one trust office: overlapping large groups
        rows += [(s, f"hub{hub}") for s in hub_members if rng.random() < 0.6]
    rows += [(s, "lone-hub") for s in rng.sample(ids, 90)]
    for officer in range(sponsors):
        rows += [(s, f"o{officer}") for s in rng.sample(ids, rng.choice([1, 1, 2, 3, 6, 20]))]
    rows += rng.sample(rows, 50)  # the same membership twice (two roles)
    memberships = pl.LazyFrame({"sponsor_id": [r[0] for r in rows],
                                "officer_key": [r[1] for r in rows]})
    return codes, memberships, active


def _sorted(frame: pl.LazyFrame) -> pl.DataFrame:
    return frame.select("sponsor_id", "officer_shared_with_revoked", "officer_other_sponsors"
                        ).collect().sort("sponsor_id", "officer_shared_with_revoked",
                                "officer_other_sponsors")


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("hub_sponsors", [0, 1, 2, 5, HUB_SPONSORS, 10**9])
def test_same_counts_as_the_pairs_for_any_hub_size(seed: int, hub_sponsors: int) -> None:
    codes, memberships, active = random_world(seed)
    expected = _sorted(reference_officer_links(codes, memberships, active))
    got = _sorted(officer_links(codes, memberships, active, hub_sponsors))
    assert expected.height > 300
    assert expected["officer_other_sponsors"].max() > 100  # the hubs are there
    assert_frame_equal(got, expected, check_exact=True)


def test_a_sponsor_linked_by_a_hub_and_a_small_group_is_counted_once() -> None:
    codes = pl.LazyFrame({"sponsor_id": ["a", "b", "c", "d"],
                          "revoked": [False, True, False, True]}).with_row_index("code")
    memberships = pl.LazyFrame({"sponsor_id": ["a", "b", "c", "d", "a", "b", "a", "d"],
                                "officer_key": ["h", "h", "h", "h", "x", "x", "y", "y"]})
    active = pl.LazyFrame({"sponsor_id": ["a", "c"]})
    got = _sorted(officer_links(codes, memberships, active, hub_sponsors=3))
    assert got.rows() == [("a", 2.0, 3.0), ("c", 2.0, 3.0)]
    assert_frame_equal(got, _sorted(reference_officer_links(codes, memberships, active)))


def test_hub_officer_in_a_built_snapshot() -> None:
    """Through build_features: a director at many sponsors, some revoked, one sponsor
    sharing a second (small) officer with some of them, one officer appointed after T."""
    w = World()
    for i in range(120):
        revoked = i % 10 == 0
        sponsor = f"1{i:07d}"
        w.sponsor(sponsor, ended_on=D(2023, 1, 1) if revoked else None,
                  end_reason="REVOKED" if revoked else None)
        w.officer(sponsor, "hub", from_date=D(2016, 1, 1))
        if i < 5:
            w.officer(sponsor, "small", from_date=D(2016, 1, 1))
    w.sponsor("20000000")
    w.officer("20000000", "small", from_date=D(2016, 1, 1))
    w.officer("20000000", "late", from_date=D(2024, 3, 1))
    w.officer("10000001", "late", from_date=D(2024, 3, 1))
    rows = features_by_sponsor(w, T)
    assert rows["10000001"]["officer_other_sponsors"] == 120  # 119 via the hub, 1 via small
    assert rows["10000001"]["officer_shared_with_revoked"] == 12
    assert rows["10000003"]["officer_other_sponsors"] == 120
    assert rows["10000007"]["officer_other_sponsors"] == 119
    assert rows["20000000"]["officer_other_sponsors"] == 5
    assert rows["20000000"]["officer_shared_with_revoked"] == 1
