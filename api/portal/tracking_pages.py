"""The portal's "Where shown" page: the partner's own sightings, and its copies still live after a
kill, first. Same services as `GET /v1/sightings` and `GET /v1/still-live` (api/tracking)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from api.catalogue.models import Article
from api.core.db import utcnow
from api.deps import SessionDep
from api.portal import views
from api.portal.views import PortalUser
from api.tracking import service as tracking, still_live

router = APIRouter()
REASONS = {"article_withdrawn": "the article was withdrawn", "licence_revoked": "the licence was revoked",
           "licence_expired": "the licence has ended"}


@router.get("/portal/sightings", response_class=HTMLResponse)
def sightings_page(request: Request, who: PortalUser, session: SessionDep, cursor: str | None = None) -> HTMLResponse:
    rows, next_cursor = tracking.list_sightings(session, partner_id=who.partner.id, cursor=cursor or None, limit=50)
    cases, _ = still_live.list_cases(session, status="open", partner_id=who.partner.id, cursor=None, limit=100)
    days = tracking.days_of(session, [s.id for s, _ in rows], since=(utcnow() - tracking.DAYS_SHOWN).date())
    ids = {s.article_id for s, _ in rows} | {c.article_id for c in cases}
    headlines = dict(session.exec(select(Article.id, Article.headline).where(Article.id.in_(ids or {""}))).all())  # type: ignore[attr-defined]
    return views.render(request, "sightings.html", who=who, rows=[s for s, _ in rows], days=days, cases=cases,
                        headlines=headlines, reasons=REASONS, next_cursor=next_cursor, page="sightings")
