"""The model page (version, training window, metrics, fairness audit, features) and the
model card as a page."""

from __future__ import annotations

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
        context.update(
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
