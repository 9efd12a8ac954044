"""Every endpoint against a real model trained on the small simulated world."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import AuditEntry
from sponsorwatch.contract import TABLES
from sponsorwatch.storage import scan_warehouse
from tests.serving.conftest import Api
from training.fitting.scoring import score_dates

ALL_ROLES = ("case-system", "analyst", "admin")


def latest_scores(api: Api) -> pl.DataFrame:
    day = score_dates(api.settings.scores_dir)[-1]
    return pl.read_parquet(api.settings.scores_dir / f"as_of={day}" / "scores.parquet")


def audit_rows(api: Api, endpoint: str) -> list[AuditEntry]:
    api.flush_audit()
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(AuditEntry).where(AuditEntry.endpoint == endpoint)
                                    .order_by(AuditEntry.id)))


def records_of(api: Api, sponsor_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The sponsors' raw records from the warehouse, as a case system would send them."""
    tables = scan_warehouse(api.settings.warehouse_dir)
    return {name: json.loads(frame.filter(pl.col("sponsor_id").is_in(sponsor_ids))
                             .select(TABLES[name].column_names).collect().write_json())
            for name, frame in tables.items()}


# --- POST /v1/scores ------------------------------------------------------------------------

def test_scores_known_and_unknown_ids(api: Api) -> None:
    scores = latest_scores(api)
    top, other = scores["sponsor_id"][0], scores["sponsor_id"][5]
    response = api.client.post("/v1/scores", headers=api.headers["case-system"],
                               json={"sponsor_ids": [top, "00000001", other, top]})
    assert response.status_code == 200
    body = response.json()
    assert [r["sponsor_id"] for r in body["results"]] == [top, other]
    assert body["not_found"] == [{"sponsor_id": "00000001",
                                  "reason": f"not in the ranking of {body['as_of']}"}]
    first = body["results"][0]
    expected = scores.row(0, named=True)
    assert first["score"] == pytest.approx(expected["score"])
    assert first["rank"] == 1 and first["band"] == expected["band"]
    assert first["model_version"] == body["model_version"] == expected["model_version"]
    assert first["as_of"] == str(expected["as_of"])
    assert first["reasons"] and {"feature", "value", "contribution", "description"} <= set(
        first["reasons"][0])
    [row] = [r for r in audit_rows(api, "POST /v1/scores") if top in r.sponsor_ids]
    assert json.loads(row.sponsor_ids) == [top, other]
    assert row.role == "case-system" and row.model_version == body["model_version"]


def test_scores_thousand_ids_and_nothing_found(api: Api) -> None:
    ids = latest_scores(api)["sponsor_id"].to_list()
    many = (ids * 3)[:1000]
    body = api.client.post("/v1/scores", headers=api.headers["admin"],
                           json={"sponsor_ids": many}).json()
    assert len(body["results"]) == len(set(many))
    none = api.client.post("/v1/scores", headers=api.headers["case-system"],
                           json={"sponsor_ids": ["99999999"]})
    assert none.status_code == 200 and none.json()["results"] == []


@pytest.mark.parametrize("body", [
    {"sponsor_ids": []}, {"sponsor_ids": ["12"]}, {"sponsor_ids": "12345678"},
    {"sponsor_ids": [f"{i:08d}" for i in range(1001)]}, {"ids": ["12345678"]}, [],
])
def test_scores_bad_input_says_what_is_wrong(api: Api, body: Any) -> None:
    response = api.client.post("/v1/scores", headers=api.headers["case-system"], json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"]


def test_not_json_is_a_422(api: Api) -> None:
    response = api.client.post("/v1/scores", content=b"{oops", headers={
        **api.headers["case-system"], "content-type": "application/json"})
    assert response.status_code == 422


# --- GET /v1/sponsors ----------------------------------------------------------------------

def test_ranking_is_paged_in_rank_order(api: Api) -> None:
    scores = latest_scores(api)
    first = api.client.get("/v1/sponsors?page_size=10", headers=api.headers["analyst"]).json()
    second = api.client.get("/v1/sponsors?page=2&page_size=10",
                            headers=api.headers["analyst"]).json()
    assert first["total"] == scores.height
    assert [i["rank"] for i in first["items"]] == list(range(1, 11))
    assert [i["rank"] for i in second["items"]] == list(range(11, 21))
    past = api.client.get("/v1/sponsors?page=999&page_size=500",
                          headers=api.headers["analyst"]).json()
    assert past["items"] == [] and past["total"] == scores.height
    logged = audit_rows(api, "GET /v1/sponsors")
    assert any(json.loads(r.sponsor_ids) == [i["sponsor_id"] for i in first["items"]]
               for r in logged)


def test_ranking_filters(api: Api) -> None:
    scores = latest_scores(api)
    row = scores.row(3, named=True)
    headers = api.headers["analyst"]

    def ids(query: str) -> set[str]:
        page = api.client.get(f"/v1/sponsors?page_size=500&{query}", headers=headers).json()
        assert page["total"] == len(page["items"])
        return {i["sponsor_id"] for i in page["items"]}

    def expected(condition: pl.Expr) -> set[str]:
        return set(scores.filter(condition)["sponsor_id"])

    assert ids(f"sector={row['sector']}") == expected(pl.col("sector") == row["sector"])
    assert ids("band=high") == expected(pl.col("band") == "high")
    area = row["postcode4"][:2]
    assert ids(f"postcode={area}") == expected(pl.col("postcode4").str.starts_with(area))
    assert ids("min_score=0.5&max_score=0.9") == expected(pl.col("score").is_between(0.5, 0.9))
    word = row["name"].split()[0]
    assert row["sponsor_id"] in ids(f"q={word.lower()}")
    assert ids(f"q={row['sponsor_id']}") == {row["sponsor_id"]}
    assert ids("sector=nothing-like-this") == set()


# --- GET /v1/sponsors/{id} -----------------------------------------------------------------

def test_sponsor_page(api: Api) -> None:
    scores = latest_scores(api)
    inspections = scan_warehouse(api.settings.warehouse_dir)["inspections"].collect()
    inspected = scores.filter(pl.col("sponsor_id").is_in(inspections["sponsor_id"].implode()))
    row = inspected.row(0, named=True)
    response = api.client.get(f"/v1/sponsors/{row['sponsor_id']}", headers=api.headers["analyst"])
    assert response.status_code == 200
    page = response.json()
    assert page["score"] == pytest.approx(row["score"]) and page["rank"] == row["rank"]
    from features.registry import FEATURES

    by_name = {f["name"]: f for f in page["features"]}
    model_features = [c for c in scores.columns if c in FEATURES]
    assert set(by_name) == set(model_features)
    for name in model_features:
        assert by_name[name]["description"] == FEATURES[name].description
        assert by_name[name]["value"] == pytest.approx(row[name], nan_ok=True)
    history = pl.concat(
        pl.read_parquet(api.settings.scores_dir / f"as_of={day}" / "scores.parquet")
        .filter(pl.col("sponsor_id") == row["sponsor_id"]).select("as_of", "score")
        for day in score_dates(api.settings.scores_dir))
    assert history.height >= 2
    assert [h["as_of"] for h in page["history"]] == [str(d) for d in history["as_of"]]
    assert [h["score"] for h in page["history"]] == pytest.approx(history["score"].to_list())
    expected = inspections.filter(pl.col("sponsor_id") == row["sponsor_id"]).unique(
        "inspection_id")  # the warehouse keeps every version; the page shows the latest
    assert sorted(i["inspection_id"] for i in page["inspections"]) == sorted(
        expected["inspection_id"])
    assert audit_rows(api, "GET /v1/sponsors/{id}")[-1].sponsor_ids == json.dumps(
        [row["sponsor_id"]])


def test_unknown_sponsor_page_is_404(api: Api) -> None:
    response = api.client.get("/v1/sponsors/00000001", headers=api.headers["analyst"])
    assert response.status_code == 404 and "not in the ranking" in response.json()["detail"]
    assert api.client.get("/v1/sponsors/abc", headers=api.headers["analyst"]).status_code == 422


# --- reviews -------------------------------------------------------------------------------

def test_review_decision_and_outcome(api: Api, tmp_path: Path) -> None:
    sponsor = latest_scores(api)["sponsor_id"][0]
    headers = api.headers["analyst"]
    created = api.client.post(f"/v1/sponsors/{sponsor}/reviews", headers=headers,
                              json={"decision": "inspect", "note": "wages at the criterion",
                                    "decided_on": "2026-01-05"})
    assert created.status_code == 201
    review = created.json()
    assert review["decision"] == "inspect" and review["score"] is not None
    assert review["outcome"] is None
    closed = api.client.post(f"/v1/reviews/{review['review_id']}/outcome", headers=headers,
                             json={"outcome": "VIOLATION", "closed_on": "2026-03-01",
                                   "findings": ["UNDERPAYMENT"], "fine_eur": 3000})
    assert closed.status_code == 200
    assert closed.json()["findings"] == ["UNDERPAYMENT"]
    assert api.client.get(f"/v1/reviews/{review['review_id']}",
                          headers=headers).json()["outcome"] == "VIOLATION"
    listed = api.client.get(f"/v1/sponsors/{sponsor}/reviews", headers=headers).json()
    assert review["review_id"] in [r["review_id"] for r in listed]
    page = api.client.get(f"/v1/sponsors/{sponsor}", headers=headers).json()
    assert review["review_id"] in [r["review_id"] for r in page["reviews"]]

    from typer.testing import CliRunner

    from cli.main import app

    out = tmp_path / "inspections.parquet"
    result = CliRunner().invoke(app, ["--home", str(api.settings.home), "reviews", "export",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    exported = pl.read_parquet(out).filter(
        pl.col("inspection_id") == f"REV-{review['review_id']}").row(0, named=True)
    assert exported["selection"] == "RISK_BASED" and exported["outcome"] == "VIOLATION"
    assert exported["opened_on"] == date(2026, 1, 5)


def test_review_errors(api: Api) -> None:
    sponsor = latest_scores(api)["sponsor_id"][1]
    headers = api.headers["analyst"]
    dismissed = api.client.post(f"/v1/sponsors/{sponsor}/reviews", headers=headers,
                                json={"decision": "dismiss", "note": "university"}).json()
    conflict = api.client.post(f"/v1/reviews/{dismissed['review_id']}/outcome",
                               headers=headers,
                               json={"outcome": "NO_VIOLATION", "closed_on": "2026-03-01"})
    assert conflict.status_code == 409 and "dismissed" in conflict.json()["detail"]
    missing = api.client.post("/v1/reviews/nope/outcome", headers=headers,
                              json={"outcome": "OPEN"})
    assert missing.status_code == 404
    no_date = api.client.post(f"/v1/reviews/{dismissed['review_id']}/outcome", headers=headers,
                              json={"outcome": "VIOLATION"})
    assert no_date.status_code == 422 and "closed_on" in no_date.text
    for body in ({"decision": "sanction"}, {"decision": "inspect", "extra": 1}):
        response = api.client.post(f"/v1/sponsors/{sponsor}/reviews", headers=headers,
                                   json=body)
        assert response.status_code == 422
    unknown = api.client.post("/v1/sponsors/00000001/reviews", headers=headers,
                              json={"decision": "inspect"})
    assert unknown.status_code == 404
    assert api.client.get("/v1/reviews/nope", headers=headers).status_code == 404


# --- model, reload ---------------------------------------------------------------------------

def test_model_info(api: Api) -> None:
    from features.registry import FEATURES

    for role in ALL_ROLES:
        assert api.client.get("/v1/model", headers=api.headers[role]).status_code == 200
    info = api.client.get("/v1/model", headers=api.headers["analyst"]).json()
    model = api.client.app.state.serving.model.model  # type: ignore[attr-defined]
    assert info["version"] == latest_scores(api)["model_version"][0]
    assert info["source"] == "registry" and info["run_id"]
    assert [f["name"] for f in info["features"]] == model.feature_names
    assert all(f["description"] == FEATURES[f["name"]].description for f in info["features"])
    assert info["training_window"]["last_snapshot"] and info["metrics"]
    assert info["snapshot_sponsors"] == latest_scores(api).height


# --- roles on every endpoint -------------------------------------------------------------

ENDPOINTS = [
    ("post", "/v1/scores", {"sponsor_ids": ["12345678"]}, "case-system"),
    ("post", "/v1/scores/records", {"tables": {}}, "case-system"),
    ("get", "/v1/sponsors", None, "analyst"),
    ("get", "/v1/sponsors/12345678", None, "analyst"),
    ("get", "/v1/sponsors/12345678/reviews", None, "analyst"),
    ("post", "/v1/sponsors/12345678/reviews", {"decision": "dismiss"}, "analyst"),
    ("get", "/v1/reviews/x", None, "analyst"),
    ("post", "/v1/reviews/x/outcome", {"outcome": "OPEN"}, "analyst"),
    ("post", "/v1/admin/reload", None, "admin"),
    ("get", "/v1/admin/keys", None, "admin"),
    ("post", "/v1/admin/keys", {"role": "analyst"}, "admin"),
    ("delete", "/v1/admin/keys/x", None, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "needs"), ENDPOINTS)
def test_every_endpoint_checks_key_and_role(api: Api, method: str, path: str, body: Any,
                                            needs: str) -> None:
    assert api.client.request(method, path, json=body).status_code == 401
    assert api.client.request(method, path, json=body,
                              headers={"X-API-Key": "sw_0_bad"}).status_code == 401
    for role in ALL_ROLES:
        status = api.client.request(method, path, json=body,
                                    headers=api.headers[role]).status_code
        allowed = role in (needs, "admin")
        assert (status != 403) == allowed, (role, status)
        assert status != 401 and status < 500


# --- POST /v1/scores/records -----------------------------------------------------------------

def pick_sponsors(scores: pl.DataFrame) -> list[str]:
    """The top sponsors, and sponsors whose link features (shared officer or address) are
    non-zero, so the warehouse context is exercised."""
    chosen = scores["sponsor_id"].head(3).to_list()
    for column in ("officer_other_sponsors", "sponsors_at_address",
                   "officer_shared_with_revoked", "address_shared_with_revoked",
                   "migrant_officers", "past_inspections"):
        if column in scores.columns:
            linked = scores.filter(pl.col(column) > 0)["sponsor_id"].head(2).to_list()
            chosen += [s for s in linked if s not in chosen]
    return chosen


def test_records_score_equals_batch_score(api: Api) -> None:
    """No training-serving skew: a sponsor's raw records scored online give the batch
    snapshot's score, reasons and features for the same day."""
    scores = latest_scores(api)
    chosen = pick_sponsors(scores)
    linked = scores.filter(pl.col("sponsor_id").is_in(chosen)
                           & (pl.col("officer_other_sponsors") > 0))
    assert linked.height, "a sponsor linked to others by an officer is among those checked"
    model = api.client.app.state.serving.model.model  # type: ignore[attr-defined]
    for sponsor_id in chosen:
        response = api.client.post("/v1/scores/records", headers=api.headers["case-system"],
                                   json={"tables": records_of(api, [sponsor_id])})
        assert response.status_code == 200, response.text
        body = response.json()
        [result] = body["results"]
        batch = scores.filter(pl.col("sponsor_id") == sponsor_id).row(0, named=True)
        assert body["as_of"] == str(batch["as_of"])
        for name in model.feature_names:
            assert result["features"][name] == pytest.approx(batch[name], nan_ok=True), name
        assert result["score"] == pytest.approx(batch["score"], rel=1e-9)
        assert [r["feature"] for r in result["reasons"]] == [
            r["feature"] for r in batch["reasons"]]
        assert result["rank_in_snapshot"] <= batch["rank"]
        assert result["band"] == batch["band"]
    logged = audit_rows(api, "POST /v1/scores/records")
    assert {json.loads(r.sponsor_ids)[0] for r in logged} >= set(chosen)


def test_records_of_several_sponsors_and_an_inactive_one(api: Api) -> None:
    scores = latest_scores(api)
    ids = scores["sponsor_id"].head(2).to_list()
    tables = records_of(api, ids)
    early = {"as_of": "2019-01-02", "tables": tables}
    body = api.client.post("/v1/scores/records", headers=api.headers["case-system"],
                           json={"tables": tables}).json()
    assert sorted(r["sponsor_id"] for r in body["results"]) == sorted(ids)
    before = api.client.post("/v1/scores/records", headers=api.headers["case-system"],
                             json=early).json()
    recognised_late = [s for s in ids if s not in {r["sponsor_id"] for r in before["results"]}]
    assert {n["sponsor_id"] for n in before["not_scored"]} == set(recognised_late)


def test_records_breaking_the_contract_are_refused_with_the_rule(api: Api) -> None:
    sponsor = latest_scores(api)["sponsor_id"][0]
    tables = records_of(api, [sponsor])
    assert tables["permits"], "the top sponsor has permits"
    headers = api.headers["case-system"]

    def post(changed: dict[str, Any]) -> Any:
        return api.client.post("/v1/scores/records", headers=headers, json=changed)

    bad_hours = json.loads(json.dumps(tables))
    bad_hours["permits"][0]["declared_weekly_hours"] = 90
    response = post({"tables": bad_hours})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "tables", "permits", 0]
    assert problem["type"] == "contract.declared_weekly_hours_in_range"
    assert "declared_weekly_hours <= 60" in problem["msg"]

    orphan = json.loads(json.dumps(tables))
    orphan["payroll"][0]["sponsor_id"] = "99999999"
    problems = post({"tables": orphan}).json()["detail"]
    assert any(p["type"] == "contract.sponsor_id_known_in_sponsors" for p in problems)

    no_sponsor = {k: v for k, v in tables.items() if k != "sponsors"}
    response = post({"tables": no_sponsor})
    assert response.status_code == 422 and "sponsors row" in response.json()["detail"][0]["msg"]

    wrong_type = json.loads(json.dumps(tables))
    wrong_type["sponsors"][0]["founded_on"] = "yesterday"
    response = post({"tables": wrong_type})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:4] == ["body", "tables", "sponsors", 0]

    duplicate = json.loads(json.dumps(tables))
    duplicate["sponsors"].append(duplicate["sponsors"][0])
    problems = post({"tables": duplicate}).json()["detail"]
    assert any(p["type"] == "contract.key_unique" for p in problems)

    assert post({"tables": {"unknown_table": []}}).status_code == 422


def test_link_features_need_the_warehouse_context(api: Api) -> None:
    """Why the service adds linked sponsors from its warehouse: without them a sponsor's
    shared officers count no other sponsor."""
    from serving.records import build_request_features, records_to_frames
    from serving.schemas import RecordsRequest

    scores = latest_scores(api)
    row = scores.filter(pl.col("officer_other_sponsors") > 0).row(0, named=True)
    state = api.client.app.state.serving  # type: ignore[attr-defined]
    request = RecordsRequest.model_validate({"tables": records_of(api, [row["sponsor_id"]])})
    frames = records_to_frames(request.tables.model_dump(exclude_none=True))
    with_context, without = (
        build_request_features(frames, row["as_of"], state.thresholds, True, context)
        for context in (state.context, None))
    assert with_context["officer_other_sponsors"][0] == row["officer_other_sponsors"]
    assert without["officer_other_sponsors"][0] == 0


def test_concurrent_records_requests_are_batched_with_the_same_answers(api: Api) -> None:
    """Requests scored together in one batch get exactly what each gets alone; a broken
    one among them is refused alone."""
    from concurrent.futures import ThreadPoolExecutor

    scores = latest_scores(api)
    ids = pick_sponsors(scores)[:6]
    bodies = [{"tables": records_of(api, [sid])} for sid in ids]
    broken = json.loads(json.dumps(bodies[0]))
    broken["tables"]["sponsors"][0]["legal_form"] = "PIRATE"
    headers = api.headers["case-system"]

    def post(body: dict[str, Any]) -> Any:
        return api.client.post("/v1/scores/records", headers=headers, json=body)

    alone = [post(body).json() for body in bodies]
    batcher = api.client.app.state.records_batcher  # type: ignore[attr-defined]
    batches_before = batcher.batches
    with ThreadPoolExecutor(max_workers=len(bodies) + 1) as pool:
        together = list(pool.map(post, [*bodies, broken]))
    assert batcher.batches - batches_before < len(bodies) + 1, "some requests shared a batch"
    for single, response in zip(alone, together, strict=False):
        assert response.status_code == 200
        [one], [batched] = single["results"], response.json()["results"]
        # SHAP sums may differ in the last bits between a batch and a single row.
        assert batched["score"] == pytest.approx(one["score"], rel=1e-9)
        assert batched["features"] == pytest.approx(one["features"], nan_ok=True)
        assert [r["feature"] for r in batched["reasons"]] == [r["feature"] for r in one["reasons"]]
        assert [r["contribution"] for r in batched["reasons"]] == pytest.approx(
            [r["contribution"] for r in one["reasons"]], rel=1e-5)
        assert (batched["band"], batched["rank_in_snapshot"]) == (one["band"],
                                                                 one["rank_in_snapshot"])
    assert together[-1].status_code == 422
    assert together[-1].json()["detail"][0]["type"] == "contract.legal_form_in_set"


@pytest.mark.parametrize("as_of", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
def test_records_as_of_out_of_range_is_a_422_naming_the_field(api: Api, as_of: str) -> None:
    sponsor = latest_scores(api)["sponsor_id"][0]
    response = api.client.post("/v1/scores/records", headers=api.headers["case-system"],
                               json={"as_of": as_of, "tables": records_of(api, [sponsor])})
    assert response.status_code == 422, response.text
    assert "as_of" in response.text


def test_an_invalid_body_is_not_echoed_in_the_422(api: Api) -> None:
    marker = "ECHO-" + "x" * 200_000
    response = api.client.post("/v1/scores", headers=api.headers["case-system"],
                               json={"sponsor_ids": [marker]})
    assert response.status_code == 422
    assert "ECHO-" not in response.text and len(response.content) < 5_000
    [problem] = response.json()["detail"]
    assert problem["loc"][:2] == ["body", "sponsor_ids"] and problem["msg"]
