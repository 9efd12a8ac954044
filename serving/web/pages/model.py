"""The model page (version, training window, metrics, estimates with 95 % intervals and
the calibration evidence, fairness audit, features) and the model card as a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

import serving.web.pages.common as common
from serving.web.i18n import translator

router = APIRouter(include_in_schema=False)


def cached_model_card(request: Request, version: str) -> dict[str, Any] | None:
    """The card training cached for ``version`` (the cache only: no MLflow here), as
    ``GET /v1/model/card`` reads it."""
    from serving.routes.card import read_cached_card

    return read_cached_card(request.app.state.settings, version)


def model_estimates(request: Request, version: str) -> dict[str, Any] | None:
    """The holdout estimates with intervals and calibration evidence of model ``version``
    (``training.fitting.intervals.holdout_estimates``): from the served model's info when
    it is the version loaded, else from that version's cached card; never from MLflow."""
    loaded = common.serving_state(request).model
    if loaded is not None and loaded.version == version:
        found = (loaded.info.get("data") or {}).get("holdout_estimates")
        if found:
            return found
    card = cached_model_card(request, version)
    return ((card or {}).get("metrics") or {}).get("estimates")


def estimate_rows(estimates: dict[str, Any], t: Callable[..., str]) -> list[dict[str, Any]]:
    """The model page's rows of the estimates table, methods and reasons in words."""
    from training.fitting import intervals

    methods = {intervals.CLOPPER_PEARSON: "exact", intervals.BOOTSTRAP: "bootstrap",
               intervals.HORVITZ_THOMPSON: "design", intervals.SIMPLE_RANDOM: "simple"}
    entries = [(name, name, entry) for name, entry in estimates["metrics"].items()]
    entries.append((t("model.population_rate"), "population_violation_rate",
                    estimates["population_violation_rate"]))
    rows = []
    for label, name, entry in entries:
        method = methods.get(entry.get("method", ""))
        code = entry.get("reason_code")
        rows.append({
            "label": label, "name": name, "measurable": bool(entry.get("measurable")),
            "estimate": entry.get("estimate"), "lo": entry.get("lo"), "hi": entry.get("hi"),
            "rows": entry.get("rows"),
            "method": t(f"model.method_name.{method}") if method else entry.get("method", ""),
            "reason": (t(f"model.reason.{code}", **entry.get("reason_values", {}))
                       if code else entry.get("reason", ""))})
    return rows


@router.get("/model", response_class=HTMLResponse)
def model_page(request: Request, user: common.PageUser) -> Response:
    from serving.routes.model import feature_infos, numeric_metrics, training_window

    serving = common.serving_state(request)
    loaded = serving.model
    context: dict[str, Any] = {"active": "model", "loaded": loaded,
                               "problem": serving.problems.get("model", "not loaded"),
                               "snapshot": serving.snapshot}
    if loaded is not None:
        info = loaded.info
        stored = info.get("training_window") or {}
        card = cached_model_card(request, loaded.version)
        estimates = model_estimates(request, loaded.version)
        context.update(
            estimates=estimates,
            estimate_rows=(estimate_rows(estimates, translator(common.language(request)))
                           if estimates else []),
            window=training_window(loaded), holdout_dates=stored.get("holdout_dates") or [],
            metrics=sorted(numeric_metrics(info).items()),
            features=feature_infos(loaded.model), card=card,
            fairness=(card or {}).get("fairness"))
    return common.render(request, "model.html", user, **context)


@router.get("/model/card", response_class=HTMLResponse)
def model_card_page(request: Request, user: common.PageUser) -> Response:
    """The served model's card (Markdown from ``training.governance.model_card``) as a page."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    from training.governance.card_markdown import card_markdown

    loaded = common.serving_state(request).model
    t = translator(common.language(request))
    card = cached_model_card(request, loaded.version) if loaded is not None else None
    if card is None:
        return common.render(request, "error.html", user, 404, message=t(
            "model.card_none", version=loaded.version if loaded is not None else "?"))
    # "js-default" leaves raw HTML in the Markdown escaped.
    html = MarkdownIt("js-default").render(card_markdown(card))
    return common.render(request, "card.html", user, active="model",
                         card_html=Markup(html), version=loaded.version)
