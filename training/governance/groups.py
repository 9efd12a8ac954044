"""Who is in which audit group: the nationality mix of a sponsor's migrants (from the
restricted field, read in exactly one place: :func:`load_restricted_attributes`), and the
unrestricted groups sector, size class and postcode area.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import polars as pl

from sponsorwatch.history import known_versions
from sponsorwatch.sbi import sbi_section

#: The restricted attribute, as the contract declares it; read only by this module.
RESTRICTED_TABLE, RESTRICTED_COLUMN = "permits", "nationality"


#: Groupings audited on every run. The first is derived from the restricted field.
RESTRICTED_GROUPING = "nationality_mix"


GROUPINGS: tuple[str, ...] = (RESTRICTED_GROUPING, "sector", "size_class", "postcode_area")


#: A dominant region needs more than this share of a sponsor's migrants, else "MIXED".
DOMINANT_SHARE = 0.5


UNKNOWN = "UNKNOWN"


# UN M49 regions, coarsened to the groups that matter for labour migration to the Netherlands.
_REGION_CODES: dict[str, str] = {
    "SOUTH_ASIA": "IND PAK BGD LKA NPL BTN MDV AFG",
    "EAST_ASIA": "CHN JPN KOR PRK MNG TWN HKG MAC",
    "SOUTH_EAST_ASIA": "IDN PHL VNM THA MYS SGP MMR KHM LAO BRN TLS",
    "MIDDLE_EAST_NORTH_AFRICA": "TUR IRN IRQ SYR JOR LBN ISR PSE SAU ARE QAT KWT BHR OMN YEM "
                                "EGY MAR DZA TUN LBY SDN ESH",
    "SUB_SAHARAN_AFRICA": "NGA ZAF KEN ETH GHA UGA TZA CMR ZWE ZMB AGO MOZ SEN CIV MLI BFA NER "
                          "TCD SOM SSD ERI DJI RWA BDI COD COG GAB GNQ CAF BEN TGO GIN GNB SLE "
                          "LBR GMB MRT CPV STP NAM BWA LSO SWZ MWI MDG MUS SYC COM",
    "EUROPE_CENTRAL_ASIA_NON_EU": "GBR RUS UKR BLR CHE NOR ISL LIE SRB BIH MKD ALB MNE MDA GEO "
                                  "ARM AZE XKX AND MCO SMR VAT KAZ UZB KGZ TJK TKM",
    "EU_EEA": "AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD "
              "POL PRT ROU SVK SVN ESP SWE",
    "NORTH_AMERICA_OCEANIA": "USA CAN AUS NZL FJI PNG WSM TON VUT SLB KIR FSM MHL PLW NRU TUV",
    "LATIN_AMERICA_CARIBBEAN": "MEX BRA ARG COL CHL PER VEN ECU BOL PRY URY CUB DOM HTI JAM TTO "
                               "GTM HND SLV NIC CRI PAN BLZ GUY SUR BHS BRB LCA VCT GRD ATG DMA "
                               "KNA",
}


NATIONALITY_REGION: dict[str, str] = {
    code: region for region, codes in _REGION_CODES.items() for code in codes.split()}


SIZE_CLASSES: tuple[tuple[int, str], ...] = (
    (10, "1-9"), (50, "10-49"), (250, "50-249"), (10**9, "250+"))


def restricted_attributes(permits: pl.LazyFrame, as_of: date | None = None) -> pl.LazyFrame:
    """Nationality mix of each sponsor's migrants, from the permits known on ``as_of``.

    Each migrant counts once per sponsor (latest application). Returns ``sponsor_id``,
    ``nationality_mix`` (the dominant region where it holds more than half of the migrants,
    else ``MIXED``), ``dominant_region``, ``dominant_region_share`` and ``migrants``.
    """
    known = permits.filter(pl.col(RESTRICTED_COLUMN).is_not_null())
    if as_of is not None:
        known = known.filter(pl.col("submitted_on") <= as_of)
    migrants = (
        known.sort("submitted_on")
        .group_by("sponsor_id", "person_key").agg(pl.col(RESTRICTED_COLUMN).last())
        .with_columns(region=pl.col(RESTRICTED_COLUMN).replace_strict(
            NATIONALITY_REGION, default="OTHER", return_dtype=pl.String))
    )
    per_region = migrants.group_by("sponsor_id", "region").agg(count=pl.len())
    return (
        per_region.sort(["sponsor_id", "count", "region"], descending=[False, True, False])
        .group_by("sponsor_id", maintain_order=True)
        .agg(dominant_region=pl.col("region").first(),
             dominant_count=pl.col("count").first(), migrants=pl.col("count").sum())
        .with_columns(dominant_region_share=pl.col("dominant_count") / pl.col("migrants"))
        .with_columns(**{RESTRICTED_GROUPING: pl.when(
            pl.col("dominant_region_share") > DOMINANT_SHARE).then(pl.col("dominant_region"))
            .otherwise(pl.lit("MIXED"))})
        .select("sponsor_id", RESTRICTED_GROUPING, "dominant_region",
                "dominant_region_share", "migrants")
    )


def load_restricted_attributes(warehouse_dir: Path, as_of: date | None = None) -> pl.DataFrame:
    """Read ``permits.nationality`` (the restricted field) and return each sponsor's
    nationality mix. The one function in the code base that reads the restricted field.

    Raises:
        FileNotFoundError: naming the file when the warehouse has no permits table.
    """
    path = Path(warehouse_dir) / f"{RESTRICTED_TABLE}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no permits table; the fairness audit needs it")
    permits = pl.scan_parquet(path).select(
        "sponsor_id", "person_key", "submitted_on", RESTRICTED_COLUMN)
    return restricted_attributes(permits, as_of).collect()


def audit_groups(tables: Mapping[str, pl.LazyFrame], as_of: date) -> pl.LazyFrame:
    """Unrestricted audit groups per sponsor: ``sector`` (SBI section), ``size_class`` (latest
    headcount filed on or before ``as_of``) and ``postcode_area`` (first postcode digit)."""
    sponsors = known_versions("sponsors", tables["sponsors"], as_of).select(
        "sponsor_id",
        sector=sbi_section(pl.col("sbi_code")),
        postcode_area=pl.col("postcode4").str.slice(0, 1).fill_null(UNKNOWN))
    if "workforce" in tables:
        headcount = (
            tables["workforce"]
            .filter((pl.col("filed_on") <= as_of) & (pl.col("period") <= as_of))
            .sort("period", "filed_on")
            .group_by("sponsor_id").agg(headcount=pl.col("headcount").last()))
        sponsors = sponsors.join(headcount, on="sponsor_id", how="left")
    else:
        sponsors = sponsors.with_columns(headcount=pl.lit(None, dtype=pl.Int64))
    size: pl.Expr = pl.lit(UNKNOWN)
    for upper, name in reversed(SIZE_CLASSES):
        size = pl.when(pl.col("headcount") < upper).then(pl.lit(name)).otherwise(size)
    return sponsors.with_columns(size_class=pl.when(pl.col("headcount").is_null())
                                 .then(pl.lit(UNKNOWN)).otherwise(size)).drop("headcount")
