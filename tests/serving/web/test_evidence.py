"""The sponsor page says "about N in 10" only with the calibration evidence behind it: the
interval and the counts where a score range holds enough inspected snapshots, "not enough
evidence" and no frequency where it does not (English and Dutch); the model page shows the
intervals table and the evidence (issue 15 items 2 and 4)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serving.web.conftest import Web, key_of, sign_in
from training.fitting.intervals import EVIDENCE_EDGES, MIN_EVIDENCE
from training.fitting.metrics import binomial_interval


def _evidence(inspected: int, violations: int, random: bool = True) -> dict[str, Any]:
    """A calibration evidence table whose every score range holds the same counts."""
    lo, hi = binomial_interval(violations, inspected, "beta")
    enough = inspected >= MIN_EVIDENCE
    ranges = []
    for low, high in zip(EVIDENCE_EDGES, EVIDENCE_EDGES[1:], strict=False):
        entry = {"lo": low, "hi": high, "random_inspected": inspected if random else 3,
                 "random_violations": violations if random else 1,
                 "labelled_inspected": inspected, "labelled_violations": violations,
                 "basis": ("random" if random else "labelled") if enough else "thin",
                 "inspected": inspected, "violations": violations, "mean_predicted": 0.3}
        if enough:
            entry.update(observed=violations / inspected, observed_lo=float(lo[0]),
                         observed_hi=float(hi[0]))
        ranges.append(entry)
    return {"min_inspected": MIN_EVIDENCE, "edges": list(EVIDENCE_EDGES),
            "method": "clopper-pearson (exact binomial)", "score": "score_xgboost",
            "ranges": ranges}


def _estimates(evidence: dict[str, Any]) -> dict[str, Any]:
    exact = "clopper-pearson (exact binomial)"
    return {
        "model": "xgboost", "level": 0.95, "ks": [100],
        "rows": {"holdout": 400, "labelled": 160, "random_labelled": 130,
                 "random_sponsors": 128, "with_inclusion_probability": 0,
                 "labelled_with_inclusion_probability": 0},
        "bootstrap": {"resamples": 1000, "seed": 42, "unit": "sponsor",
                      "interval": "percentile"},
        "metrics": {
            "precision_at_100": {"measurable": True, "estimate": 0.27, "lo": 0.187,
                                 "hi": 0.367, "method": exact, "rows": 100},
            "average_precision": {"measurable": False, "rows": 130,
                                  "reason": "no violation among the RANDOM inspections",
                                  "reason_code": "no_violation", "reason_values": {}}},
        "population_violation_rate": {"measurable": True, "estimate": 0.315, "lo": 0.236,
                                      "hi": 0.404, "method": exact, "rows": 130},
        "calibration_evidence": evidence}


@pytest.fixture
def served(web: Web) -> Iterator[dict[str, Any]]:
    """The served model's info, restored after the test."""
    info = web.client.app.state.serving.model.info  # type: ignore[attr-defined]
    data = info.setdefault("data", {})
    before = data.get("holdout_estimates")
    yield data
    data["holdout_estimates"] = before


def _meaning(page: str) -> str:
    text = html.unescape(page)
    start = text.index('<p class="meaning">')
    return text[start:text.index("</section>", start)]


def _sponsor(web: Web) -> str:
    return web.latest_scores()["sponsor_id"][0]


def _dutch(web: Web) -> Any:
    client = web.fresh_client()
    sign_in(client, key_of(web.api, "analyst"))
    client.post("/language", data={"lang": "nl", "next": "/model"})
    return client


def test_enough_evidence_gives_the_frequency_with_its_interval(web: Web,
                                                               served: dict) -> None:
    served["holdout_estimates"] = _estimates(_evidence(130, 41))
    sponsor = _sponsor(web)
    meaning = _meaning(web.client.get(f"/sponsors/{sponsor}").text)
    assert "About 3 in 10 sponsors with this score were found in violation" in meaning
    # Clopper-Pearson 41 of 130 is 0.237 to 0.403: written outwards as 2 to 5 in 10.
    assert "95% interval 2–5 in 10: 41 of 130 randomly inspected sponsors" in meaning
    dutch = _meaning(_dutch(web).get(f"/sponsors/{sponsor}").text)
    assert "Ongeveer 3 op 10 referenten met deze score" in dutch
    assert "95%-interval 2–5 op 10: 41 van de 130 willekeurig geïnspecteerde" in dutch


def test_evidence_from_all_labelled_inspections_says_so(web: Web, served: dict) -> None:
    served["holdout_estimates"] = _estimates(_evidence(60, 30, random=False))
    meaning = _meaning(web.client.get(f"/sponsors/{_sponsor(web)}").text)
    assert "About 5 in 10" in meaning and "30 of 60 inspected sponsors" in meaning
    assert "Too few of them were inspected at random (3)" in meaning


def test_thin_evidence_states_no_frequency(web: Web, served: dict) -> None:
    served["holdout_estimates"] = _estimates(_evidence(MIN_EVIDENCE - 1, 9))
    sponsor = _sponsor(web)
    meaning = _meaning(web.client.get(f"/sponsors/{sponsor}").text)
    assert "Not enough evidence to say how often sponsors with this score" in meaning
    assert f"{MIN_EVIDENCE - 1} inspected sponsors" in meaning
    assert "About" not in meaning and "in 10" not in meaning and "in 100" not in meaning
    dutch = _meaning(_dutch(web).get(f"/sponsors/{sponsor}").text)
    assert "Te weinig gegevens" in dutch
    assert "Ongeveer" not in dutch and "op 10" not in dutch and "op 100" not in dutch


def test_training_stored_the_evidence_for_the_service_and_the_card(web: Web,
                                                                   served: dict) -> None:
    from serving.routes.card import read_cached_card

    estimates = served["holdout_estimates"]  # the demo's training run wrote them
    assert estimates["calibration_evidence"]["ranges"]
    assert 0 < estimates["rows"]["random_labelled"] <= served["random_labelled_rows"]
    loaded = web.client.app.state.serving.model  # type: ignore[attr-defined]
    card = read_cached_card(web.settings, loaded.version)
    assert card is not None and card["metrics"]["estimates"] == estimates


def test_no_evidence_states_no_frequency(web: Web, served: dict,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import serving.web.pages.model as model_page

    served.pop("holdout_estimates", None)
    monkeypatch.setattr(model_page, "cached_model_card", lambda request, version: None)
    meaning = _meaning(web.client.get(f"/sponsors/{_sponsor(web)}").text)
    assert "No calibration evidence is recorded" in meaning and "About" not in meaning


def test_model_page_shows_the_intervals_and_the_evidence(web: Web, served: dict) -> None:
    served["holdout_estimates"] = _estimates(_evidence(130, 41))
    page = html.unescape(web.client.get("/model").text)
    assert "Estimates with 95% intervals" in page
    assert "0.270</td><td class=\"num\">0.187–0.367</td><td>exact binomial" in page
    assert "not measurable: no violation among the RANDOM inspections" in page
    assert "population violation rate" in page and "0.236–0.404" in page
    assert "Calibration evidence" in page and "23.7%–40.3%" in page
    dutch = html.unescape(_dutch(web).get("/model").text)
    assert "Schattingen met 95%-intervallen" in dutch and "0,187–0,367" in dutch
    assert "niet meetbaar: geen overtreding bij de willekeurige inspecties" in dutch
