"""The analyst pages through HTTP (no browser): sign-in and sessions, the ranked list
against the snapshot, sponsor pages, reviews, exports, language, audit trail."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date

import polars as pl
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import AuditEntry
from serving.web.session import SESSION_COOKIE
from tests.serving.web.conftest import Web, csrf_of, key_of, listed_ids, sign_in
from training.fitting.intervals import evidence_range

PAGES = ["/sponsors", "/sponsors?band=high", "/model", "/sponsors/export.csv",
         "/sponsors/export.xlsx"]


def audit_rows(web: Web, endpoint: str) -> list[AuditEntry]:
    web.api.flush_audit()
    with Session(web.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(AuditEntry).where(AuditEntry.endpoint == endpoint)
                                    .order_by(AuditEntry.id)))


def count_in(html: str) -> int:
    match = re.search(r'id="result-count"[^>]*>([0-9.,\u2009]+) ', html)
    assert match, "no result count on the page"
    return int(re.sub(r"[^0-9]", "", match.group(1)))


# --- sign-in and sessions -------------------------------------------------------------------

@pytest.mark.parametrize("path", [*PAGES, "/sponsors/12345678"])
def test_pages_without_session_redirect_to_sign_in(web: Web, path: str) -> None:
    response = web.fresh_client().get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=/")


def test_sign_in_sets_a_strict_httponly_signed_cookie_and_returns_to_next(web: Web) -> None:
    sponsor = web.latest_scores()["sponsor_id"][0]
    client = web.fresh_client()
    first = client.get(f"/sponsors/{sponsor}", follow_redirects=False)
    form = client.get(first.headers["location"])
    assert f'name="next" value="/sponsors/{sponsor}"' in form.text
    response = client.post("/sign-in", data={"api_key": key_of(web.api, "analyst"),
                                             "csrf": csrf_of(form.text),
                                             "next": f"/sponsors/{sponsor}"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/sponsors/{sponsor}"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie
    assert "samesite=strict" in cookie
    assert key_of(web.api, "analyst") not in response.headers["set-cookie"]
    assert client.get(f"/sponsors/{sponsor}").status_code == 200


def test_tampered_cookie_is_not_a_session(web: Web) -> None:
    client = web.fresh_client()
    sign_in(client, key_of(web.api, "analyst"))
    value = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, ("A" if value[0] != "A" else "B") + value[1:])
    assert client.get("/sponsors", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("key", "status", "message"), [
    ("sw_nope_nothing", 401, "unknown or has been revoked"),
    ("", 401, "unknown or has been revoked"),
    ("case-system", 403, "may not use the analyst pages"),
])
def test_sign_in_refuses_bad_keys_and_other_roles(web: Web, key: str, status: int,
                                                  message: str) -> None:
    client = web.fresh_client()
    form = client.get("/sign-in")
    api_key = key_of(web.api, key) if key == "case-system" else key
    response = client.post("/sign-in", data={"api_key": api_key, "csrf": csrf_of(form.text)})
    assert response.status_code == status and message in response.text
    assert client.get("/sponsors", follow_redirects=False).status_code == 303


def test_sign_in_needs_the_form_token(web: Web) -> None:
    client = web.fresh_client()
    response = client.post("/sign-in", data={"api_key": key_of(web.api, "analyst"),
                                             "csrf": "forged"})
    assert response.status_code == 400
    assert client.get("/sponsors", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil"])
def test_sign_in_never_redirects_off_site(web: Web, target: str) -> None:
    client = web.fresh_client()
    form = client.get("/sign-in")
    response = client.post("/sign-in", data={"api_key": key_of(web.api, "admin"),
                                             "csrf": csrf_of(form.text), "next": target},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sponsors"


def test_sign_out_ends_the_session_and_keeps_the_language(web: Web) -> None:
    client = web.fresh_client()
    sign_in(client, key_of(web.api, "admin"))
    page = client.get("/sponsors")
    client.post("/language", data={"lang": "nl", "next": "/sponsors"})
    response = client.post("/sign-out", data={"csrf": csrf_of(page.text)},
                           follow_redirects=False)
    assert response.headers["location"].startswith("/sign-in")
    assert client.get("/sponsors", follow_redirects=False).status_code == 303
    signed_out = client.get(response.headers["location"])
    assert 'lang="nl"' in signed_out.text and "U bent afgemeld." in signed_out.text


def test_revoked_key_ends_its_sessions(web: Web) -> None:
    admin = web.api.headers["admin"]
    created = web.api.client.post("/v1/admin/keys", json={"role": "analyst"},
                                  headers=admin).json()
    client = web.fresh_client()
    sign_in(client, created["api_key"])
    assert client.get("/sponsors").status_code == 200
    web.api.client.delete(f"/v1/admin/keys/{created['key_id']}", headers=admin)
    # The pages look the key up again after KEY_CHECK_SECONDS; skip the wait.
    web.client.app.state.web_key_status.forget(created["key_id"])  # type: ignore[attr-defined]
    assert client.get("/sponsors", follow_redirects=False).status_code == 303


# --- the ranked list ------------------------------------------------------------------------

def expected_ids(scores: pl.DataFrame, condition: pl.Expr | None = None) -> list[str]:
    rows = scores if condition is None else scores.filter(condition.fill_null(False))
    return rows.sort("rank")["sponsor_id"].to_list()


def test_list_filters_agree_with_the_snapshot(web: Web) -> None:
    scores = web.latest_scores()
    sector = scores["sector"].drop_nulls().mode().sort()[0]
    name_part = scores["name"][3].split()[0][1:4].lower()
    kvk_prefix = scores["sponsor_id"][7][:3]
    postcode = scores["postcode4"].drop_nulls()[0][:2]
    low, high = float(scores["score"].quantile(0.25)), float(scores["score"].quantile(0.75))
    cases = [
        ({"band": "high"}, pl.col("band") == "high"),
        ({"sector": sector}, pl.col("sector") == sector),
        ({"postcode": postcode}, pl.col("postcode4").str.starts_with(postcode)),
        ({"min_score": f"{low:.4f}", "max_score": f"{high:.4f}"},
         (pl.col("score") >= round(low, 4)) & (pl.col("score") <= round(high, 4))),
        ({"q": name_part}, pl.col("name").str.to_lowercase().str.contains(name_part,
                                                                           literal=True)),
        ({"q": kvk_prefix}, pl.col("sponsor_id").str.starts_with(kvk_prefix)
         | pl.col("name").str.to_lowercase().str.contains(kvk_prefix, literal=True)),
        ({"band": "elevated", "sector": sector},
         (pl.col("band") == "elevated") & (pl.col("sector") == sector)),
    ]
    for params, condition in cases:
        expected = expected_ids(scores, condition)
        assert expected, f"the test case {params} matches nothing in the small world"
        page = web.client.get("/sponsors", params={**params, "page_size": "500"})
        assert page.status_code == 200, params
        assert count_in(page.text) == len(expected), params
        assert listed_ids(page.text) == expected, params


def test_list_rows_show_score_rank_band_and_top_reason_in_words(web: Web) -> None:
    scores = web.latest_scores()
    page = html.unescape(web.client.get("/sponsors").text)
    assert listed_ids(page) == scores["sponsor_id"].head(50).to_list()
    top = scores.row(0, named=True)
    row_html = page.split(f'href="/sponsors/{top["sponsor_id"]}"', 1)[1].split("</tr>", 1)[0]
    assert f"{top['score']:.2f}" in row_html
    assert "High" in row_html and top["band"] == "high"
    assert top["reasons"][0]["description"] in row_html


def test_sorting_and_paging(web: Web) -> None:
    scores = web.latest_scores()
    by_name = scores.sort(["name", "rank"], descending=[True, False])["sponsor_id"].to_list()
    first = web.client.get("/sponsors", params={"sort": "name", "order": "desc",
                                                "page_size": "25"}).text
    second = web.client.get("/sponsors", params={"sort": "name", "order": "desc",
                                                 "page_size": "25", "page": "2"}).text
    assert listed_ids(first) == by_name[:25] and listed_ids(second) == by_name[25:50]
    assert 'aria-sort="descending"' in first
    assert 'rel="next" href="/sponsors?sort=name&amp;order=desc&amp;page=3&amp;page_size=25"' \
        in second
    beyond = web.client.get("/sponsors", params={"page": "9999", "page_size": "25"}).text
    assert listed_ids(beyond) == scores["sponsor_id"].to_list()[
        (len(by_name) - 1) // 25 * 25:]


def test_bad_filters_are_named_and_ignored(web: Web) -> None:
    page = web.client.get("/sponsors", params={"postcode": "12a", "min_score": "2",
                                               "sort": "secret", "page": "x"})
    assert page.status_code == 200
    for field in ("postcode", "min_score", "sort", "page"):
        assert f"Ignored {field}" in page.text
    assert count_in(page.text) == web.latest_scores().height


def test_list_page_lands_in_the_audit_trail(web: Web) -> None:
    page = web.client.get("/sponsors", params={"band": "high", "page_size": "25"}).text
    [*_, row] = audit_rows(web, "GET /sponsors")
    assert json.loads(row.sponsor_ids) == listed_ids(page)
    assert row.role == "analyst" and row.score_as_of == web.latest_scores()["as_of"][0]


# --- one sponsor -----------------------------------------------------------------------------

def test_sponsor_page_explains_the_score(web: Web) -> None:
    scores = web.latest_scores()
    row = scores.row(0, named=True)
    page = web.client.get(f"/sponsors/{row['sponsor_id']}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f"Rank {row['rank']} of {scores.height}" in text
    # "About N in 10" only with the evidence behind it: the served model's calibration
    # evidence for this score's range, or a plain "not enough evidence".
    info = web.client.app.state.serving.model.info  # type: ignore[attr-defined]
    found = evidence_range(info["data"]["holdout_estimates"]["calibration_evidence"],
                           row["score"])
    if found is None or found["basis"] == "thin":
        assert "Not enough evidence to say how often sponsors with this score" in text
    else:
        assert "sponsors with this score were found in violation" in text
        assert f"{found['violations']} of {found['inspected']}" in text
    for reason in row["reasons"]:
        assert reason["description"] in text
    first = row["reasons"][0]["feature"]
    assert scores[first].dtype == pl.Float64
    for chart in ("history", "wages", "turnover", "delays"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in text, chart
    [*_, audit] = audit_rows(web, "GET /sponsors/{id}")
    assert json.loads(audit.sponsor_ids) == [row["sponsor_id"]]


def test_typical_value_is_the_median_over_all_sponsors(web: Web) -> None:
    from features.registry import FEATURES
    from serving.web.i18n import feature_value

    scores = web.latest_scores()
    row = scores.row(0, named=True)
    text = html.unescape(web.client.get(f"/sponsors/{row['sponsor_id']}").text)
    for reason in row["reasons"]:
        feature = reason["feature"]
        median = scores[feature].fill_nan(None).median()
        cells = text.split(reason["description"], 1)[1].split("</tr>", 1)[0]
        assert feature_value(median, FEATURES[feature].unit, "en") in cells, feature


def test_unknown_sponsor_is_a_404_page(web: Web) -> None:
    response = web.client.get("/sponsors/00000000")
    assert response.status_code == 404 and "is not in the ranking" in response.text


def test_wage_chart_data_is_point_in_time(web: Web) -> None:
    """Every wage drawn is the latest filing known on the day, a filing made later changes
    nothing, and the criterion is the one in force that month for the migrant's scheme."""
    from serving.web.sponsor_data import load_sponsor_records
    from sponsorwatch.thresholds import load_thresholds, threshold_on

    scores = web.latest_scores()
    as_of = scores["as_of"][0]
    payroll = pl.read_parquet(web.settings.warehouse_dir / "payroll.parquet")
    in_ranking = payroll.filter(pl.col("sponsor_id").is_in(scores["sponsor_id"].implode()))
    # The sponsor with the most filings that arrived late or were corrected.
    late = in_ranking.filter(pl.col("is_correction")
                             | (pl.col("filed_on") > pl.col("period").dt.offset_by("2mo")))
    sponsor = late.group_by("sponsor_id").len().sort("len", descending=True)["sponsor_id"][0]
    thresholds = load_thresholds()
    for day in (as_of, date(as_of.year - 1, as_of.month, 1)):
        records = load_sponsor_records(web.settings.warehouse_dir, sponsor, day, thresholds)
        assert records.wages.height > 0
        known = (payroll.filter((pl.col("sponsor_id") == sponsor) & (pl.col("filed_on") <= day))
                 .sort("filed_on").group_by("person_key", "period").last())
        joined = records.wages.join(known, on=["person_key", "period"], how="left")
        assert joined["gross_wage_right"].null_count() == 0
        assert (joined["gross_wage"] == joined["gross_wage_right"]).all()
        assert records.wages["period"].max() <= day
        assert records.wages["period"].min() >= date(day.year - 2, day.month, 1)
        for wage in records.wages.iter_rows(named=True):
            assert wage["threshold"] == threshold_on(thresholds, wage["scheme"], wage["period"])


# --- reviews ---------------------------------------------------------------------------------

def test_review_form_writes_the_api_review_storage(web: Web) -> None:
    sponsor = web.latest_scores()["sponsor_id"][2]
    page = web.client.get(f"/sponsors/{sponsor}").text
    response = web.client.post(f"/sponsors/{sponsor}/reviews", data={
        "csrf": csrf_of(page), "decision": "inspect", "note": "wages at the criterion",
        "decided_on": "2026-01-05"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/sponsors/{sponsor}?saved=review#reviews"
    reviews = web.api.client.get(f"/v1/sponsors/{sponsor}/reviews",
                                 headers=web.api.headers["analyst"]).json()
    [review] = reviews
    analyst_key_id = key_of(web.api, "analyst").split("_")[1]
    assert review["decision"] == "inspect" and review["note"] == "wages at the criterion"
    assert review["decided_on"] == "2026-01-05" and review["key_id"] == analyst_key_id
    assert review["score"] == pytest.approx(web.latest_scores()["score"][2])
    [*_, audit] = audit_rows(web, "POST /sponsors/{id}/reviews")
    assert json.loads(audit.sponsor_ids) == [sponsor]

    shown = web.client.get(f"/sponsors/{sponsor}?saved=review").text
    assert "Review recorded." in shown and "wages at the criterion" in shown
    outcome = web.client.post(f"/reviews/{review['review_id']}/outcome", data={
        "csrf": csrf_of(shown), "outcome": "VIOLATION", "closed_on": "2026-03-01",
        "findings": ["UNDERPAYMENT", "SALARY_REPAYMENT"], "fine_eur": "12000", "note": "paid"},
        follow_redirects=False)
    assert outcome.status_code == 303
    stored = web.api.client.get(f"/v1/reviews/{review['review_id']}",
                                headers=web.api.headers["analyst"]).json()
    assert stored["outcome"] == "VIOLATION" and stored["closed_on"] == "2026-03-01"
    assert stored["findings"] == ["UNDERPAYMENT", "SALARY_REPAYMENT"]
    assert stored["fine_eur"] == 12000
    closed = web.client.get(f"/sponsors/{sponsor}?saved=outcome")
    assert closed.status_code == 200 and "Outcome recorded." in closed.text
    assert "violation (2026-03-01): underpayment, salary paid back, € 12,000" in closed.text

    reviewed = web.client.get("/sponsors", params={"reviewed": "yes"}).text
    assert sponsor in listed_ids(reviewed)
    not_reviewed = web.client.get("/sponsors", params={"reviewed": "no", "page_size": "500"})
    assert sponsor not in listed_ids(not_reviewed.text)
    assert count_in(not_reviewed.text) == web.latest_scores().height - len(listed_ids(reviewed))


def test_review_form_errors_are_shown_and_nothing_is_stored(web: Web) -> None:
    sponsor = web.latest_scores()["sponsor_id"][4]
    page = web.client.get(f"/sponsors/{sponsor}").text
    missing = web.client.post(f"/sponsors/{sponsor}/reviews",
                              data={"csrf": csrf_of(page), "note": "no decision"})
    assert missing.status_code == 422 and 'role="alert"' in missing.text
    assert "no decision" in missing.text  # the note is kept in the form
    forged = web.client.post(f"/sponsors/{sponsor}/reviews",
                             data={"csrf": "forged", "decision": "dismiss"})
    assert forged.status_code == 422 and "form had expired" in forged.text
    assert web.api.client.get(f"/v1/sponsors/{sponsor}/reviews",
                              headers=web.api.headers["analyst"]).json() == []


def review_through_the_page(web: Web, position: int, decision: str) -> tuple[dict, str]:
    """Record a review of the sponsor at ``position`` with the page's form; the stored
    review and the page (for its CSRF token)."""
    sponsor = web.latest_scores()["sponsor_id"][position]
    page = web.client.get(f"/sponsors/{sponsor}").text
    web.client.post(f"/sponsors/{sponsor}/reviews",
                    data={"csrf": csrf_of(page), "decision": decision})
    [review] = web.api.client.get(f"/v1/sponsors/{sponsor}/reviews",
                                  headers=web.api.headers["analyst"]).json()
    return review, page


def test_outcome_on_a_dismissal_is_refused_with_a_message(web: Web) -> None:
    review, page = review_through_the_page(web, 5, "dismiss")
    response = web.client.post(f"/reviews/{review['review_id']}/outcome", data={
        "csrf": csrf_of(page), "outcome": "VIOLATION", "closed_on": "2026-02-01"})
    assert response.status_code == 422 and "dismissed the sponsor" in response.text


def test_outcome_for_a_longer_review_id_is_not_found_and_not_saved(web: Web) -> None:
    review, page = review_through_the_page(web, 6, "inspect")
    longer = review["review_id"] + "x" * 40  # its first 64 characters hold the real id
    response = web.client.post(f"/reviews/{longer}/outcome", data={
        "csrf": csrf_of(page), "outcome": "NO_VIOLATION", "closed_on": "2026-02-01"},
        follow_redirects=False)
    assert response.status_code == 404 and "saved=" not in response.headers.get("location", "")
    stored = web.api.client.get(f"/v1/reviews/{review['review_id']}",
                                headers=web.api.headers["analyst"]).json()
    assert stored["outcome"] is None


# --- exports ---------------------------------------------------------------------------------

def test_exports_hold_the_filtered_list_with_reasons(web: Web) -> None:
    scores = web.latest_scores()
    sector = scores["sector"].drop_nulls().mode().sort()[0]
    expected = expected_ids(scores, pl.col("sector") == sector)
    params = {"sector": sector, "page_size": "25"}
    csv_response = web.client.get("/sponsors/export.csv", params=params)
    assert csv_response.status_code == 200
    assert "attachment" in csv_response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert [r["sponsor_id"] for r in rows] == expected  # every page, not just the first
    first = scores.filter(pl.col("sponsor_id") == expected[0]).row(0, named=True)
    assert rows[0]["reason_1_feature"] == first["reasons"][0]["feature"]
    assert rows[0]["reason_1"].startswith(first["reasons"][0]["description"])
    assert float(rows[0]["score"]) == pytest.approx(first["score"])

    xlsx = web.client.get("/sponsors/export.xlsx", params=params)
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    sheet_rows = list(book["ranking"].iter_rows(values_only=True))
    header = sheet_rows[0]
    assert [r[header.index("sponsor_id")] for r in sheet_rows[1:]] == expected
    assert sheet_rows[1][header.index("reason_1")] == rows[0]["reason_1"]
    about = dict(book["about"].iter_rows(values_only=True))
    assert about["as_of"] == str(scores["as_of"][0]) and about["rows"] == str(len(expected))
    [*_, audit] = audit_rows(web, "GET /sponsors/export.xlsx")
    assert json.loads(audit.sponsor_ids) == expected


# --- language, model page, missing snapshot ---------------------------------------------------

def test_dutch_is_remembered_in_the_session(web: Web) -> None:
    client = web.fresh_client()
    sign_in(client, key_of(web.api, "analyst"))
    response = client.post("/language", data={"lang": "nl", "next": "/sponsors?band=high"},
                           follow_redirects=False)
    assert response.headers["location"] == "/sponsors?band=high"
    page = client.get("/sponsors").text
    assert '<html lang="nl">' in page and "Rangschikking" in page and "Hoog" in page
    sponsor = web.latest_scores()["sponsor_id"][0]
    assert "referenten met deze score" in client.get(f"/sponsors/{sponsor}").text
    client.post("/language", data={"lang": "xx", "next": "/model"})
    assert '<html lang="en">' in client.get("/model").text


def test_model_page_shows_version_window_and_metrics(web: Web) -> None:
    model = web.api.client.get("/v1/model", headers=web.api.headers["analyst"]).json()
    page = web.client.get("/model")
    assert page.status_code == 200
    assert f"<dd>{model['version']}</dd>" in page.text
    assert str(model["training_window"]["first_snapshot"]) in page.text
    for name in list(model["metrics"])[:3]:
        assert name in page.text
    for feature in model["features"][:5]:
        assert feature["name"] in page.text


def test_pages_say_what_is_missing_without_a_snapshot(tmp_path) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.keys import issue_key
    from sponsorwatch.settings import Settings

    settings = Settings(home=tmp_path / "home")
    with TestClient(create_app(settings)) as client:
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            key = issue_key(session, settings.secret_key.get_secret_value(), "analyst")
        sign_in(client, key.api_key)
        page = client.get("/sponsors")
        assert page.status_code == 503 and "No score snapshot is loaded" in page.text
        assert client.get("/model").status_code == 200


def test_model_page_shows_the_fairness_summary_and_renders_the_card(web: Web) -> None:
    from sponsorwatch.storage import json_safe
    from training.governance.audit import FairnessAudit
    from training.governance.disparity import group_metrics
    from training.governance.model_card import build_model_card, card_cache_dir, write_card

    loaded = web.client.app.state.serving.model  # type: ignore[attr-defined]
    scores = web.latest_scores()
    population = scores.select(
        "sector", (pl.col("rank") <= 20).alias("selected"),
        (pl.col("score") > pl.col("score").median()).cast(pl.Int8).alias("label"))
    audit = FairnessAudit(as_of=scores["as_of"][0], k=20, sponsors=scores.height,
                          min_ratio=0.8, groups={"sector": group_metrics(population, "sector",
                                                                         min_support=5)},
                          proxy={}, bias_scan={"method": "test", "flagged_clusters": []})
    card = build_model_card(
        name="sponsor-risk", version=loaded.version, run_id=loaded.info.get("run_id") or "",
        feature_names=loaded.model.feature_names, descriptions={}, directions={},
        training_window=loaded.info.get("training_window") or {}, data={}, metrics={},
        fairness=json_safe(audit.to_dict()), capacity=20, horizon_months=12,
        fairness_min_ratio=0.8)
    write_card(card, card_cache_dir(web.settings, loaded.version))

    page = web.client.get("/model").text
    assert "Fairness gate (fpr_label ratio at least 0.8):" in page
    for sector in scores["sector"].drop_nulls().value_counts().filter(
            pl.col("count") >= 5)["sector"].to_list():
        assert f'<th scope="row">{sector}</th>' in page, sector
    assert '<a href="/model/card">' in page
    rendered = web.client.get("/model/card")
    assert rendered.status_code == 200
    assert f"<h1>Model card: sponsor-risk version {loaded.version}</h1>" in rendered.text
    assert "<table>" in rendered.text and "<script" not in rendered.text.split("<main", 1)[1]


def test_pages_forbid_frames_foreign_code_and_caching(web: Web) -> None:
    sponsor = web.latest_scores()["sponsor_id"][0]
    for path in ("/sponsors", f"/sponsors/{sponsor}", "/model", "/sponsors/export.csv"):
        headers = web.client.get(path).headers
        assert headers["cache-control"] == "no-store", path
        if not path.endswith(".csv"):
            policy = headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "unsafe-inline" not in policy
    assert "<script src=\"/static/app.js\"" in web.client.get("/sponsors").text
    for asset in ("/static/app.css", "/static/app.js", "/static/favicon.svg"):
        assert web.client.get(asset).status_code == 200, asset


def test_guessing_keys_is_throttled(web: Web) -> None:
    from serving.web.session import SignInThrottle

    app = web.client.app
    app.state.sign_in_throttle = SignInThrottle(max_failures=3)  # type: ignore[attr-defined]
    try:
        client = web.fresh_client()
        csrf = csrf_of(client.get("/sign-in").text)
        statuses = [client.post("/sign-in", data={"api_key": f"sw_x_{i}", "csrf": csrf}
                                ).status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]
        right_key = client.post("/sign-in", data={"api_key": key_of(web.api, "analyst"),
                                                  "csrf": csrf}, follow_redirects=False)
        assert right_key.status_code == 429 and "Too many failed sign-ins" in right_key.text
    finally:
        app.state.sign_in_throttle = SignInThrottle()  # type: ignore[attr-defined]


def test_past_inspections_with_findings_are_listed(web: Web) -> None:
    scores = web.latest_scores()
    inspections = pl.read_parquet(web.settings.warehouse_dir / "inspections.parquet")
    found = (inspections.filter(pl.col("sponsor_id").is_in(scores["sponsor_id"].implode())
                                & (pl.col("findings").list.len() > 0))
             .sort("inspection_id").row(0, named=True))
    page = web.client.get(f"/sponsors/{found['sponsor_id']}")
    assert page.status_code == 200
    row = page.text.split(found["inspection_id"], 1)[1].split("</tr>", 1)[0]
    assert str(found["opened_on"]) in row
    from serving.web.i18n import code_text

    assert ", ".join(code_text("en", f) for f in found["findings"]) in row


def test_sponsor_pages_render_for_every_kind_of_sponsor(web: Web) -> None:
    """A sample covering each band, sponsors with and without inspections, payroll and
    notices, both languages: every page renders."""
    scores = web.latest_scores()
    ranked = scores["sponsor_id"]
    warehouse = web.settings.warehouse_dir

    def having(table: str) -> set[str]:
        return set(pl.read_parquet(warehouse / f"{table}.parquet", columns=["sponsor_id"])
                   ["sponsor_id"].to_list())

    inspected, paid, noticed = having("inspections"), having("payroll"), having("notifications")
    sample: set[str] = set()
    for group in (inspected, set(ranked) - paid, noticed, set(ranked) - noticed,
                  set(ranked) - inspected):
        sample |= set(sorted(group & set(ranked))[:6])
    for band in scores["band"].unique().to_list():
        sample |= set(scores.filter(pl.col("band") == band)["sponsor_id"].head(2).to_list())
    sample |= set(ranked.sample(8, seed=3).to_list())
    client = web.fresh_client()
    sign_in(client, key_of(web.api, "analyst"))
    for lang in ("en", "nl"):
        client.post("/language", data={"lang": lang, "next": "/sponsors"})
        for sponsor_id in sorted(sample):
            response = client.get(f"/sponsors/{sponsor_id}")
            assert response.status_code == 200, (lang, sponsor_id, response.text[:300])
