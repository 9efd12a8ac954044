"""The page routes of the analyst workspace: the routers of the page families in
``serving.web.pages`` combined, none of them in the OpenAPI document.

Order matters where paths overlap: the ranking's ``/sponsors/export.csv`` must come
before the sponsor page's ``/sponsors/{sponsor_id}``.
"""

from __future__ import annotations

from fastapi import APIRouter

from serving.web.pages import auth, cases, health, model, ranking, reviews, sponsor

router = APIRouter(include_in_schema=False)
for _family in (auth, ranking, sponsor, reviews, model, cases, health):
    router.include_router(_family.router)
