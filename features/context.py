"""The point-in-time tables of one as-of day and the intermediate frames several families share.

Every frame is lazy. A frame used by several families is marked ``cache()``, so polars
computes it once per snapshot however many families read it (filters above a cache are
not pushed into it, which would otherwise give each reader its own copy of the work).

A large world is computed in shards (:attr:`Context.shards`): disjoint groups of sponsors,
each with every row of its sponsors, so a world ten times larger is ten times the shards
rather than ten times larger sorts and hash tables (those outgrow the processor's caches,
and the work then grew 15 to 17 times for 10 times the sponsors).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import cached_property

import polars as pl

from features.dates import month_number, month_of, month_start
from features.pit import active_sponsors, conform_all, filings_as_of, known_as_of
from sponsorwatch.thresholds import with_threshold_in_force

#: Months of payroll history any feature looks at (36 for cohorts, one more to see who
#: was already there when a cohort window opens).
LOOKBACK_MONTHS = 37

#: A month with at least this share of the contract hours paid is a full month; the wage
#: criterion is held against full months only, as jobs start and end mid-month.
FULL_MONTH_HOURS = 0.9

#: Ratios are compared with their bounds this loosely, so that the rounding of a division
#: (which differs between query plans) never decides a case sitting exactly on a bound.
RATIO_TOLERANCE = 1e-6

#: A migrant whose last paid month is this many months before T has left even if the
#: sponsor filed nothing since (filing lags are one to two months).
STALE_MONTHS = 3

#: Sponsors per shard (:attr:`Context.shards`). One snapshot of the 120,000-sponsor world
#: took 8.3 s with 8,000 sponsors a shard, up to 7% more with 4,000 or 12,000, 11 s with
#: 2,000 (each shard adds about 16 ms of planning) and 12 s whole; the 12,000-sponsor
#: world 0.8 s either way (benchmarks/bench_features.py).
SPONSORS_PER_SHARD = 8_000

#: Column holding the shard of a row while the tables are split (dropped afterwards).
_SHARD = "_shard"


class Context:
    """Point-in-time inputs of one snapshot and the frames shared between families."""

    #: Sponsors per shard (see :attr:`shards`); None for a context that is a shard.
    sponsors_per_shard: int | None = SPONSORS_PER_SHARD

    def __init__(self, tables: Mapping[str, pl.LazyFrame], as_of: dt.date,
                 thresholds: pl.DataFrame) -> None:
        self.as_of = as_of
        self.month = month_number(as_of)
        self.thresholds = thresholds
        first_period = month_start(self.month - LOOKBACK_MONTHS)
        complete = conform_all(tables)
        # Filings are replaced per period, so dropping old periods first changes nothing
        # and spares the latest-filing selection most of the history.
        for name in ("payroll", "workforce"):
            complete[name] = complete[name].filter(pl.col("period") >= first_period)
        self.tables = complete
        self.filings = {name: filings_as_of(complete[name], as_of)
                        for name in ("payroll", "workforce")}
        self.known = known_as_of(complete, as_of)

    @cached_property
    def shards(self) -> tuple[Context, ...]:
        """Contexts of disjoint groups of about :data:`SPONSORS_PER_SHARD` sponsors (split
        on a hash of ``sponsor_id``), each with all the rows of its sponsors; only this
        context where the world has no more sponsors than that.

        A feature of a sponsor computed from its own rows alone is the same in its shard
        as here; the link features, which count other sponsors, are computed here. The
        sponsors are counted first (reading ``sponsor_id`` of the sponsors table, the one
        thing read before collecting), so the number of shards grows with the world.
        """
        if self.sponsors_per_shard is None:
            return (self,)
        sponsors = (self.tables["sponsors"].select(pl.col("sponsor_id").n_unique())
                    .collect().item())
        count = math.ceil(sponsors / self.sponsors_per_shard)
        if count <= 1:
            return (self,)
        # the shard of each row is hashed once and kept; each shard then filters on it
        split = {name: frame.with_columns((pl.col("sponsor_id").hash(0) % count)
                                          .alias(_SHARD)).cache()
                 for name, frame in self.tables.items()}
        shards = []
        for shard in range(count):
            context = Context({name: frame.filter(pl.col(_SHARD) == shard).drop(_SHARD)
                               for name, frame in split.items()},
                              self.as_of, self.thresholds)
            context.sponsors_per_shard = None
            context.__dict__["thresholds_by_day"] = self.thresholds_by_day
            shards.append(context)
        return tuple(shards)

    def since(self, months: int) -> pl.Expr:
        """True for rows whose ``month`` lies in the last ``months`` months up to T's."""
        return pl.col("month") > self.month - months

    @cached_property
    def sponsors(self) -> pl.LazyFrame:
        """Active sponsors on T with their profile columns."""
        return active_sponsors(self.known["sponsors"]).cache()

    @cached_property
    def permits(self) -> pl.LazyFrame:
        """Known applications with their terms' start (validity, else submission)."""
        return self.known["permits"].with_columns(
            pl.coalesce("valid_from", "submitted_on").alias("terms_from")).cache()

    @cached_property
    def payroll(self) -> pl.LazyFrame:
        """Latest known wage per migrant and month, with ``month`` as a number."""
        return self.known["payroll"].with_columns(month_of("period").alias("month")).cache()

    @cached_property
    def paid(self) -> pl.LazyFrame:
        """Payroll of the last 24 months with the permit terms and threshold of the month.

        A wage paid in month M is held against the threshold in force in M for the scheme
        of the permit whose terms had started by M (the earliest permit, if none had).
        Only granted or still pending applications set terms; refused ones never applied.
        """
        terms = (self.permits
                 .filter(pl.col("decision").is_in(["GRANTED", "PENDING"]))
                 .select("sponsor_id", "person_key", "terms_from", "scheme",
                         "declared_monthly_salary", "declared_weekly_hours",
                         "submitted_on", "application_id")
                 .sort("terms_from", "submitted_on", "application_id")
                 .with_columns(
                     pl.col("terms_from").shift(-1).over("sponsor_id", "person_key")
                     .alias("terms_until"),
                     (pl.int_range(pl.len()).over("sponsor_id", "person_key") == 0)
                     .alias("first_terms")))
        # a migrant's terms tile time: exactly one permit is in force in any month, and a
        # migrant without a permit keeps one row with empty terms
        in_force = (pl.col("terms_from").is_null()
                    | (((pl.col("period") >= pl.col("terms_from")) | pl.col("first_terms"))
                       & (pl.col("terms_until").is_null()
                          | (pl.col("period") < pl.col("terms_until")))))
        joined = (self.payroll.filter(self.since(24))
                  .join(terms, on=["sponsor_id", "person_key"], how="left")
                  .filter(in_force)
                  .drop("terms_from", "terms_until", "first_terms", "submitted_on",
                        "application_id"))
        by_month = (self.thresholds_by_day.lazy().filter(pl.col("day").dt.day() == 1)
                    .rename({"day": "period"}))
        return joined.join(by_month, on=["scheme", "period"], how="left").with_columns(
            (pl.col("gross_wage") / pl.col("threshold")).alias("threshold_ratio"),
            (pl.col("hours_paid") / (pl.col("declared_weekly_hours") * 52 / 12))
            .alias("contract_hours_ratio"),
        ).with_columns(
            # the first and last month of a job are paid in part: their hours show it
            (pl.col("contract_hours_ratio") >= FULL_MONTH_HOURS - RATIO_TOLERANCE)
            .fill_null(True)
            .alias("full_month"),
        ).cache()

    @cached_property
    def thresholds_by_day(self) -> pl.DataFrame:
        """The threshold in force per scheme and day, so later joins are equi-joins."""
        return thresholds_by_day(self.thresholds)

    @cached_property
    def workforce(self) -> pl.LazyFrame:
        """Latest known employer totals per month, with ``month`` as a number."""
        return self.known["workforce"].with_columns(month_of("period").alias("month")).cache()

    @cached_property
    def latest_workforce(self) -> pl.LazyFrame:
        """Each sponsor's most recent known month of employer totals."""
        return (self.workforce.sort("month")
                .group_by("sponsor_id").last()
                .select("sponsor_id", pl.col("month").alias("workforce_month"),
                        pl.col("headcount").cast(pl.Float64)).cache())

    @cached_property
    def migrant_months(self) -> pl.LazyFrame:
        """Per sponsor and month: migrants paid and their wages together (one latest
        filing per migrant and month, so rows count migrants)."""
        return self.payroll.group_by("sponsor_id", "month").agg(
            pl.len().cast(pl.Float64).alias("migrants"),
            pl.col("gross_wage").sum().alias("migrant_wages")).cache()

    @cached_property
    def stints(self) -> pl.LazyFrame:
        """One row per migrant and sponsor paid in the lookback window: first and last
        paid month, and whether they have left (the sponsor filed later months without
        them, or nothing was filed for them for :data:`STALE_MONTHS` months)."""
        per_person = self.payroll.group_by("sponsor_id", "person_key").agg(
            pl.col("month").min().alias("first_month"),
            pl.col("month").max().alias("last_month"),
        )
        return per_person.with_columns(
            pl.col("last_month").max().over("sponsor_id").alias("sponsor_last_month"),
        ).with_columns(
            ((pl.col("last_month") < pl.col("sponsor_last_month"))
             | (pl.col("last_month") <= self.month - STALE_MONTHS)).alias("gone"),
        ).cache()


#: Days after the last threshold change for which its value is listed as in force.
THRESHOLD_HORIZON = dt.timedelta(days=366 * 15)


def thresholds_by_day(thresholds: pl.DataFrame) -> pl.DataFrame:
    """``scheme, day, threshold`` for every day from the first threshold on.

    A small eager table built from the threshold table alone (about 20,000 rows); joining
    on it keeps ``join_asof`` out of the snapshot plan, whose shared parts are cached.
    """
    if thresholds.is_empty():
        return pl.DataFrame(schema={"scheme": pl.String, "day": pl.Date,
                                    "threshold": pl.Float64})
    first, last = thresholds["valid_from"].min(), thresholds["valid_from"].max()
    days = pl.DataFrame({"day": pl.date_range(first, last + THRESHOLD_HORIZON, "1d",
                                              eager=True)})
    grid = days.join(thresholds.select(pl.col("scheme").unique()), how="cross")
    return with_threshold_in_force(grid.lazy(), thresholds, "day").collect()


#: A part of a family: a function giving per-sponsor columns, and the features among them.
Part = tuple[Callable[["Context"], pl.LazyFrame], tuple[str, ...]]


def per_sponsor(ctx: Context, parts: Sequence[Part], names: Collection[str],
                sharded: bool = True) -> pl.LazyFrame:
    """Active sponsors with the features ``names``, computing only the parts they need.

    ``sharded``: computed in each of :attr:`Context.shards` and stacked, for features of a
    sponsor that depend on its own rows alone; False for features counting other sponsors.
    """
    shards = ctx.shards if sharded else (ctx,)
    frames = [_per_sponsor(shard, parts, names) for shard in shards]
    return frames[0] if len(frames) == 1 else pl.concat(frames)


def _per_sponsor(ctx: Context, parts: Sequence[Part], names: Collection[str]) -> pl.LazyFrame:
    frame = ctx.sponsors.select("sponsor_id")
    wanted: list[str] = []
    for producer, produces in parts:
        needed = [n for n in produces if n in names]
        if needed:
            frame = frame.join(producer(ctx).select("sponsor_id", *needed), on="sponsor_id",
                               how="left")
            wanted += needed
    return frame.select("sponsor_id", *wanted)
