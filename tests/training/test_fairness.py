"""The fairness audit's figures on small hand-made sets, checked against values by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from training.governance.audit_report import audit_markdown
from training.governance.disparity import (
    disparity_breaches,
    gap_attribution,
    group_metrics,
    one_sided_p_value,
    top_k_mask,
    wilson_interval,
)
from training.governance.groups import (
    RESTRICTED_GROUPING,
    audit_groups,
    load_restricted_attributes,
    restricted_attributes,
)
from training.governance.proxy import bias_scan, proxy_check


def test_wilson_interval_matches_published_values() -> None:
    # Reference values: Newcombe (1998), Table I, and the textbook 0/10 case.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(3, 4) == pytest.approx((0.3006, 0.9544), abs=1e-4)
    assert all(np.isnan(wilson_interval(0, 0)))


def _hand_made_population() -> pl.DataFrame:
    # Group A: 10 sponsors, 4 in the top; labels 1,1,1,0 in the top, 1,0,0,0,?,? outside.
    # Group B: 10 sponsors, 2 in the top; labels 1,0 in the top, 0 x6 and ?,? outside.
    return pl.DataFrame({
        "group": ["A"] * 10 + ["B"] * 10,
        "selected": [True] * 4 + [False] * 6 + [True] * 2 + [False] * 8,
        "label": [1, 1, 1, 0, 1, 0, 0, 0, None, None, 1, 0, 0, 0, 0, 0, 0, 0, None, None],
        "truth": [1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    }, schema_overrides={"label": pl.Int8, "truth": pl.Int8})


def test_group_metrics_match_hand_computation() -> None:
    table = group_metrics(_hand_made_population(), "group", min_support=1,
                          min_expected=0)
    a, b = (table.filter(pl.col("group") == g).row(0, named=True) for g in ("A", "B"))
    # Share selected: A 4/10, B 2/10; best-off (least selected) is B.
    assert (a["selection_rate"], b["selection_rate"]) == (0.4, 0.2)
    assert a["selection_rate_ratio"] == pytest.approx(0.2 / 0.4)
    assert b["selection_rate_ratio"] == 1.0
    assert (a["selection_rate_lo"], a["selection_rate_hi"]) == pytest.approx(
        wilson_interval(4, 10))
    # Labels. A: tp 3, fp 1, negatives 4 -> precision 3/4, FPR 1/4, FDR 1/4.
    assert (a["tp_label"], a["fp_label"], a["negatives_label"]) == (3, 1, 4)
    assert (a["precision_label"], a["fpr_label"], a["fdr_label"]) == pytest.approx(
        (0.75, 0.25, 0.25))
    # B: tp 1, fp 1, negatives 7 -> precision 1/2, FPR 1/7, FDR 1/2.
    assert (b["precision_label"], b["fpr_label"], b["fdr_label"]) == pytest.approx(
        (0.5, 1 / 7, 0.5))
    # Ratios to the best-off group: FPR best is B (1/7), precision best is A, FDR best is A.
    assert a["fpr_label_ratio"] == pytest.approx((1 / 7) / 0.25)
    assert a["fpr_label_best_group"] == "B"
    assert b["precision_label_ratio"] == pytest.approx(0.5 / 0.75)
    assert b["fdr_label_ratio"] == pytest.approx(0.25 / 0.5)
    assert (a["fpr_label_lo"], a["fpr_label_hi"]) == pytest.approx(wilson_interval(1, 4))
    # Truth. A: top truths 1,1,0,0 -> precision 1/2, negatives 6, FPR 2/6.
    assert (a["precision_truth"], a["fpr_truth"]) == pytest.approx((0.5, 2 / 6))
    # B: top truths 1,1 -> precision 1, FPR 0/8; so B is best-off and A's FPR ratio is 0.
    assert (b["precision_truth"], b["fpr_truth"]) == pytest.approx((1.0, 0.0))
    assert a["fpr_truth_ratio"] == 0.0
    assert b["fpr_truth_ratio"] == 1.0


def test_groups_below_support_get_no_ratio() -> None:
    table = group_metrics(_hand_made_population(), "group", min_support=5, min_expected=0)
    a, b = (table.filter(pl.col("group") == g).row(0, named=True) for g in ("A", "B"))
    # Negatives: A 4 (< 5), B 7: only B is compared, and is its own best.
    assert a["fpr_label_ratio"] is None
    assert b["fpr_label_ratio"] == 1.0
    # Pooled FPR 2/11: B expects 7 x 2/11 = 1.3 false positives, A 0.7. At least 1 expected
    # makes B the only possible yardstick (A still gets its ratio to B); at least 2 leaves no
    # yardstick, so no ratio at all.
    one = group_metrics(_hand_made_population(), "group", min_support=1, min_expected=1)
    assert one.sort("group")["fpr_label_ratio"].to_list() == pytest.approx([4 / 7, 1.0])
    two = group_metrics(_hand_made_population(), "group", min_support=1, min_expected=2)
    assert two["fpr_label_ratio"].to_list() == [None, None]


def test_p_value_of_a_worse_rate_is_fishers_exact() -> None:
    # 2 of 2 against 0 of 2: both hits fall in the first group with C(2,2)/C(4,2) = 1/6.
    assert one_sided_p_value(2, 2, 0, 2) == pytest.approx(1 / 6)
    # 2 false positives among 25 negatives against 0 among 50: C(25,2)/C(75,2) = 300/2775,
    # not significant (a z-test would call it p = 0.02).
    assert one_sided_p_value(2, 25, 0, 50) == pytest.approx(300 / 2775)
    assert one_sided_p_value(30, 100, 10, 100) < 0.001
    assert one_sided_p_value(10, 100, 30, 100) > 0.99


def test_breach_needs_low_ratio_and_significance() -> None:
    rows = {"fpr_label_ratio": [1.0, 0.5, 0.5], "fpr_label_p_worse": [0.5, 0.01, 0.3],
            "fpr_label_best_group": ["X", "X", "X"], RESTRICTED_GROUPING: ["X", "Y", "Z"]}
    breaches = disparity_breaches({RESTRICTED_GROUPING: pl.DataFrame(rows)}, "fpr_label", 0.8)
    assert [b.group for b in breaches] == ["Y"]
    assert "ratio 0.50" in breaches[0].describe()


def test_unknown_group_is_never_the_yardstick() -> None:
    population = _hand_made_population().with_columns(
        pl.when(pl.col("group") == "B").then(pl.lit("UNKNOWN")).otherwise(pl.col("group"))
        .alias("group"))
    table = group_metrics(population, "group", min_support=1, min_expected=0).sort("group")
    # B (now UNKNOWN) is least selected, but A is the only known group: A is the bar.
    assert table["selection_rate_best_group"].to_list() == ["A", "A"]
    assert table["selection_rate_ratio"].to_list() == pytest.approx([1.0, 2.0])


def test_top_k_breaks_ties_by_sponsor_id() -> None:
    mask = top_k_mask(np.array([0.5, 0.9, 0.5, 0.1]), ["b", "z", "a", "c"], 2)
    assert mask.tolist() == [False, True, True, False]


def _permits(rows: list[tuple[str, str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"sponsor_id": s, "person_key": p, "submitted_on": date.fromisoformat(d),
          "nationality": n} for s, p, d, n in rows],
        schema={"sponsor_id": pl.String, "person_key": pl.String, "submitted_on": pl.Date,
                "nationality": pl.String})


def test_nationality_mix_by_hand() -> None:
    permits = _permits([
        ("S1", "p1", "2024-01-01", "IND"), ("S1", "p2", "2024-01-01", "PAK"),
        ("S1", "p3", "2024-01-01", "IND"), ("S1", "p4", "2024-01-01", "CHN"),
        # p5 applied twice: counts once, with the latest nationality on file.
        ("S2", "p5", "2023-01-01", "IND"), ("S2", "p5", "2024-01-01", "IND"),
        ("S2", "p6", "2024-01-01", "CHN"),
        # filed after the audit date: not known then.
        ("S2", "p7", "2025-06-01", "CHN"),
        ("S3", "p8", "2024-01-01", "ZZZ"), ("S3", "p9", "2024-01-01", None),
    ])
    mix = restricted_attributes(permits.lazy(), date(2025, 1, 1)).collect().sort("sponsor_id")
    rows = {r["sponsor_id"]: r for r in mix.to_dicts()}
    assert rows["S1"][RESTRICTED_GROUPING] == "SOUTH_ASIA"
    assert rows["S1"]["dominant_region_share"] == 0.75
    assert rows["S2"][RESTRICTED_GROUPING] == "MIXED"  # half is not more than half
    assert rows["S2"]["migrants"] == 2
    assert rows["S3"][RESTRICTED_GROUPING] == "OTHER"  # unknown code, null ignored
    assert rows["S3"]["migrants"] == 1


def test_load_restricted_attributes_reads_the_warehouse(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="permits.parquet"):
        load_restricted_attributes(tmp_path)
    _permits([("S1", "p1", "2024-01-01", "USA")]).write_parquet(tmp_path / "permits.parquet")
    mix = load_restricted_attributes(tmp_path)
    assert mix.row(0, named=True)[RESTRICTED_GROUPING] == "NORTH_AMERICA_OCEANIA"


def test_unrestricted_groups_by_hand() -> None:
    sponsors = pl.DataFrame({"sponsor_id": ["S1", "S2", "S3"], "sbi_code": ["62010", "5610", "99"],
                             "postcode4": ["1012", None, "9711"]})
    workforce = pl.DataFrame({
        "sponsor_id": ["S1", "S1", "S2"],
        "period": [date(2024, 11, 1), date(2024, 12, 1), date(2024, 12, 1)],
        "filed_on": [date(2024, 12, 5), date(2025, 2, 1), date(2025, 1, 5)],
        "headcount": [12, 400, 3]})
    groups = audit_groups({"sponsors": sponsors.lazy(), "workforce": workforce.lazy()},
                          date(2025, 1, 10)).collect().sort("sponsor_id")
    assert groups["sector"].to_list() == ["J information and communication", "I hospitality",
                                          "U extraterritorial"]
    # S1's 400 was filed after the audit date; the 12 of November counts.
    assert groups["size_class"].to_list() == ["10-49", "1-9", "UNKNOWN"]
    assert groups["postcode_area"].to_list() == ["1", "UNKNOWN", "9"]


def test_proxy_check_names_the_planted_proxy() -> None:
    rng = np.random.default_rng(0)
    n = 400
    attribute = rng.choice(["A", "B"], size=n)
    features = pl.DataFrame({
        "sponsor_id": [str(i) for i in range(n)],
        "noise_1": rng.normal(size=n), "noise_2": rng.normal(size=n),
        "proxy": (attribute == "A") * 1.5 + rng.normal(size=n)})
    result = proxy_check(features, ["noise_1", "noise_2", "proxy"], pl.Series(attribute),
                         seed=1, folds=3, descriptions={"proxy": "a planted proxy"})
    assert result["auc_macro"] > 0.75
    assert result["balanced_accuracy"] > result["balanced_accuracy_chance"] + 0.15
    assert result["strongest_proxies"][0]["feature"] == "proxy"
    assert result["strongest_proxies"][0]["description"] == "a planted proxy"
    noise_only = proxy_check(features, ["noise_1", "noise_2"], pl.Series(attribute), seed=1,
                             folds=3)
    assert abs(noise_only["auc_macro"] - 0.5) < 0.08


def test_bias_scan_flags_the_overselected_cluster() -> None:
    rng = np.random.default_rng(3)
    near, far = rng.normal(0, 1, size=(500, 2)), rng.normal(6, 1, size=(100, 2))
    values = np.vstack([near, far])
    features = pl.DataFrame({"sponsor_id": [str(i) for i in range(600)],
                             "wage_gap": values[:, 0], "turnover": values[:, 1]})
    selected = np.zeros(600, dtype=bool)
    selected[500:540] = True  # 40 of the 100 far ones
    selected[:10] = True  # 10 of the 500 near ones
    scan = bias_scan(features, ["wage_gap", "turnover"], selected, seed=0, max_clusters=4,
                     min_cluster_share=0.05, groups=pl.DataFrame({"g": ["n"] * 500 + ["f"] * 100}))
    top = scan["clusters"][0]
    assert top["flagged"] and top["cluster"] in scan["flagged_clusters"]
    assert top["sponsors"] <= 100 and top["selection_rate"] >= 0.4
    assert top["ratio_to_average"] == pytest.approx(top["selection_rate"] / (50 / 600))
    assert top["describing_features"][0]["standardised_difference"] > 1.5
    assert top["group_mix"]["g"]["f"] == 1.0
    assert sum(c["sponsors"] for c in scan["clusters"]) == 600
    assert not any(c["flagged"] for c in scan["clusters"][1:] if c["selection_rate"] < 0.1)


def test_stored_audit_ratios_are_recomputed_from_its_counts() -> None:
    from training.governance.disparity import ratio_tables

    table = group_metrics(_hand_made_population(), "group", min_support=1, min_expected=0)
    stored = {"groups": {"group": table.drop("fpr_label_ratio").to_dicts()}}
    again = ratio_tables(stored, min_support=1, min_expected=0)["group"]
    assert again["fpr_label_ratio"].to_list() == pytest.approx(table["fpr_label_ratio"].to_list())
    assert again["precision_truth_ratio"].to_list() == pytest.approx(
        table["precision_truth_ratio"].to_list())
    # Under the default rules the small hand-made groups are no yardstick.
    assert ratio_tables(stored)["group"]["fpr_label_ratio"].to_list() == [None, None]


def test_gap_attribution_names_what_raises_clean_sponsors_of_the_worse_off_group() -> None:
    rng = np.random.default_rng(3)
    n = 400
    ids = [f"{30_000_000 + i:08d}" for i in range(n)]
    group = np.where(np.arange(n) < 200, "SOUTH_ASIA", "EU_EEA")
    truth = (rng.random(n) < 0.1).astype(np.int8)
    population = pl.DataFrame({"sponsor_id": ids, RESTRICTED_GROUPING: group, "truth": truth})
    # the model lifts every South-Asian sponsor by 0.6 through one feature; the abusive
    # ones are lifted a further 2.0 by another, which must not count (they are not clean)
    contributions = pl.DataFrame({
        "sponsor_id": ids,
        "postcode_risk": np.where(group == "SOUTH_ASIA", 0.6, 0.0),
        "wage_gap": np.where((group == "SOUTH_ASIA") & (truth == 1), 2.0, 0.0) - 0.1,
        "noise": rng.normal(0, 0.01, n)})
    groups = pl.DataFrame({RESTRICTED_GROUPING: ["EU_EEA", "SOUTH_ASIA"],
                           "fpr_truth_ratio": [1.0, 0.4],
                           "fpr_truth_best_group": ["EU_EEA", "EU_EEA"]})
    gap = gap_attribution(population, contributions, ["postcode_risk", "wage_gap", "noise"],
                          groups, "truth")
    assert gap["reference_group"] == "EU_EEA"
    [south] = gap["groups"]
    assert south["negatives"] == int(((group == "SOUTH_ASIA") & (truth == 0)).sum())
    assert south["features"][0]["feature"] == "postcode_risk"
    assert south["features"][0]["gap"] == pytest.approx(0.6)
    assert "wage_gap" not in [f["feature"] for f in south["features"]]
    assert south["margin_gap"] == pytest.approx(0.6, abs=0.01)
    report = audit_markdown({"k": 10, "sponsors": n, "gate_metric": "fpr_label",
                             "min_ratio": 0.8, "passed": True, "groups": {},
                             "gap_attribution": gap})
    assert "| SOUTH_ASIA | " in report and "postcode_risk +0.60" in report


def test_gap_attribution_without_a_best_off_group_says_why() -> None:
    population = pl.DataFrame({"sponsor_id": ["1"], RESTRICTED_GROUPING: ["MIXED"],
                               "label": pl.Series([0], dtype=pl.Int8)})
    groups = pl.DataFrame({RESTRICTED_GROUPING: ["MIXED"], "fpr_label_ratio": [None],
                           "fpr_label_best_group": [None]},
                          schema_overrides={"fpr_label_ratio": pl.Float64,
                                            "fpr_label_best_group": pl.String})
    gap = gap_attribution(population, pl.DataFrame({"sponsor_id": ["1"], "f": [0.1]}), ["f"],
                          groups, "label")
    assert "skipped" in gap
