"""Where copies are displayed (sightings) and copies still live after a kill, with a close form.
Same services as the staff API (api/tracking)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from api.audit.service import Actor
from api.catalogue.models import Article
from api.console import views
from api.console.deps import ConsoleStaffMayUsage, PostingStaffMayLicensing, attempt
from api.core.db import utcnow
from api.core.errors import SyndicateError
from api.deps import SessionDep
from api.partners.models import Partner
from api.tracking import service as tracking, still_live

router = APIRouter()
REASONS = {"article_withdrawn": "Article withdrawn", "licence_revoked": "Licence revoked",
           "licence_expired": "Licence expired"}


def _names(session, partner_ids: set[str], article_ids: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    partners = dict(session.exec(select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids or {""}))).all())  # type: ignore[attr-defined]
    headlines = dict(session.exec(select(Article.id, Article.headline).where(Article.id.in_(article_ids or {""}))).all())  # type: ignore[attr-defined]
    return partners, headlines


def _filter(value: str | None) -> str | None:
    return value.strip()[:40] if value and value.strip() else None


@router.get("/sightings", response_class=HTMLResponse)
def sightings_page(request: Request, staff: ConsoleStaffMayUsage, session: SessionDep, licence_id: str | None = None,
                   article_id: str | None = None, partner_id: str | None = None,
                   cursor: str | None = None) -> HTMLResponse:
    filters = {"licence_id": _filter(licence_id), "article_id": _filter(article_id), "partner_id": _filter(partner_id)}
    rows, next_cursor = tracking.list_sightings(session, licence_id=filters["licence_id"], article_id=filters["article_id"],
                                                partner_id=filters["partner_id"], cursor=cursor or None, limit=50)
    days = tracking.days_of(session, [s.id for s, _ in rows], since=(utcnow() - tracking.DAYS_SHOWN).date())
    partners, headlines = _names(session, {p for _, p in rows}, {s.article_id for s, _ in rows})
    return views.render(request, "sightings.html", staff=staff, rows=rows, days=days, partners=partners,
                        headlines=headlines, filters={k: v or "" for k, v in filters.items()}, next_cursor=next_cursor)


def _still_live_page(request: Request, session, staff, *, status: str, licence_id: str | None, cursor: str | None,
                     error: SyndicateError | None = None, failed: str | None = None, note: str = "") -> HTMLResponse:
    status = status if status in ("open", "closed", "all") else "open"
    cases, next_cursor = still_live.list_cases(session, status=None if status == "all" else status,
                                               licence_id=_filter(licence_id), cursor=cursor or None, limit=50)
    partners, headlines = _names(session, {c.partner_id for c in cases}, {c.article_id for c in cases})
    done = {"closed": "Case closed; the partner is not told again."}.get(request.query_params.get("done", ""))
    return views.render(request, "still_live.html", staff=staff, cases=cases, partners=partners, headlines=headlines,
                        reasons=REASONS, status=status, licence_id=_filter(licence_id) or "", next_cursor=next_cursor,
                        done=done, failed=failed, note=note, error=error)


@router.get("/still-live", response_class=HTMLResponse)
def still_live_page(request: Request, staff: ConsoleStaffMayUsage, session: SessionDep, status: str = "open",
                    licence_id: str | None = None, cursor: str | None = None) -> HTMLResponse:
    return _still_live_page(request, session, staff, status=status, licence_id=licence_id, cursor=cursor)


@router.post("/still-live/{case_id}/close", response_class=HTMLResponse)
def close_case(request: Request, case_id: str, staff: PostingStaffMayLicensing, session: SessionDep,
               note: Annotated[str, Form()] = "") -> Response:
    error = attempt(session, lambda: still_live.close_case(session, case_id=case_id, note=note,
                                                            actor=Actor("staff", staff.user.id)))
    if error:
        return _still_live_page(request, session, staff, status="open", licence_id=None, cursor=None, error=error,
                                failed=case_id, note=note)
    return views.redirect("/console/still-live?done=closed")
