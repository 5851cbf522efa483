"""Tracking HTTP API: where copies are displayed (staff: every partner's; a partner: its own) and
copies still live after a kill. The beacon itself is served by delivery (`/v1/content/beacon`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.audit.service import Actor
from api.core.db import utcnow
from api.core.errors import BadCursor, Unauthenticated
from api.core.pagination import DEFAULT_LIMIT
from api.core.problems import error_responses
from api.core.times import UTCTime
from api.deps import CurrentPartner, Cursor, Limit, SessionDep, StaffMayLicensing, StaffMayUsage
from api.licensing.service import LicenceNotFound, get_licence
from api.staff.errors import RoleRequired
from api.tracking import service, still_live
from api.tracking.errors import StillLiveCaseClosed, StillLiveCaseNotFound
from api.tracking.schemas import (SightingDayRead, SightingPage, SightingRead, StillLiveCasePage, StillLiveCaseRead,
                                  StillLiveClose, case_read)

router = APIRouter()

LicenceFilter = Annotated[str | None, Query(max_length=40, description="Only this licence's copies.")]
ArticleFilter = Annotated[str | None, Query(max_length=40, description="Only copies of this article.")]
SeenSince = Annotated[UTCTime | None, Query(description="Only pages seen at or after this instant.")]
CaseStatus = Annotated[Literal["open", "closed", "all"], Query(description="Open cases (the default), closed, or all.")]


def _sighting_page(session, rows, next_cursor) -> SightingPage:
    days = service.days_of(session, [s.id for s, _ in rows], since=(utcnow() - service.DAYS_SHOWN).date())
    return SightingPage(items=[SightingRead(
        id=s.id, licence_id=s.licence_id, article_id=s.article_id, partner_id=partner_id, page_url=s.page_url,
        first_seen_at=s.first_seen_at, last_seen_at=s.last_seen_at, views=s.views, hits=s.hits,
        days=[SightingDayRead.model_validate(d) for d in days[s.id]]) for s, partner_id in rows],
        next_cursor=next_cursor)


@router.get("/v1/staff/sightings", response_model=SightingPage, tags=["reports"], summary="Where copies are displayed",
            description="Every page a licensed copy's beacon was seen on, newest first: first and last seen, filtered "
                        "views and raw hits, and both per day. Filter by licence, article, partner or recency. "
                        "Role `licensing` or `finance`.",
            responses=error_responses(Unauthenticated, RoleRequired, BadCursor))
def staff_list_sightings(session: SessionDep, staff: StaffMayUsage, licence_id: LicenceFilter = None,
                         article_id: ArticleFilter = None,
                         partner_id: Annotated[str | None, Query(max_length=40, description="Only this partner's copies.")] = None,
                         seen_since: SeenSince = None, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> SightingPage:
    rows, next_cursor = service.list_sightings(session, partner_id=partner_id, licence_id=licence_id,
                                               article_id=article_id, seen_since=seen_since, cursor=cursor, limit=limit)
    return _sighting_page(session, rows, next_cursor)


@router.get("/v1/sightings", response_model=SightingPage, tags=["licences"], summary="Where your copies are displayed",
            description="The pages your licensed copies were seen on, as their beacons reported them (newest first), "
                        "with views and raw hits in total and per day. Only your own licences' copies; another "
                        "partner's licence is not found.",
            responses=error_responses(Unauthenticated, LicenceNotFound, BadCursor))
def list_sightings(session: SessionDep, partner: CurrentPartner, licence_id: LicenceFilter = None,
                   article_id: ArticleFilter = None, seen_since: SeenSince = None, cursor: Cursor = None,
                   limit: Limit = DEFAULT_LIMIT) -> SightingPage:
    if licence_id is not None:
        get_licence(session, licence_id, partner_id=partner.id)
    rows, next_cursor = service.list_sightings(session, partner_id=partner.id, licence_id=licence_id,
                                               article_id=article_id, seen_since=seen_since, cursor=cursor, limit=limit)
    return _sighting_page(session, rows, next_cursor)


@router.get("/v1/staff/still-live", response_model=StillLiveCasePage, tags=["reports"],
            summary="Copies still live after a kill",
            description="Cases opened by a sighting of a copy after its article was withdrawn or its licence revoked "
                        "or expired: the page, the partner, the reason, since when and the views since the kill. "
                        "Newest first. Role `licensing` or `finance`.",
            responses=error_responses(Unauthenticated, RoleRequired, BadCursor))
def staff_list_still_live(session: SessionDep, staff: StaffMayUsage, status: CaseStatus = "open",
                          partner_id: Annotated[str | None, Query(max_length=40, description="Only this partner's cases.")] = None,
                          licence_id: LicenceFilter = None, article_id: ArticleFilter = None, cursor: Cursor = None,
                          limit: Limit = DEFAULT_LIMIT) -> StillLiveCasePage:
    rows, next_cursor = still_live.list_cases(session, status=None if status == "all" else status, partner_id=partner_id,
                                              licence_id=licence_id, article_id=article_id, cursor=cursor, limit=limit)
    return StillLiveCasePage(items=[case_read(c) for c in rows], next_cursor=next_cursor)


@router.post("/v1/staff/still-live/{case_id}/close", response_model=StillLiveCaseRead, tags=["reports"],
             operation_id="staff.still_live.close", summary="Close a still-live case with a note",
             description="Closes the case (the partner is not told again); the note is kept with it and in the audit "
                         "log. A later sighting of the copy opens a new case. Role `licensing`.",
             responses=error_responses(Unauthenticated, RoleRequired, StillLiveCaseNotFound, StillLiveCaseClosed))
def close_still_live_case(case_id: str, body: StillLiveClose, session: SessionDep,
                          staff: StaffMayLicensing) -> StillLiveCaseRead:
    return case_read(still_live.close_case(session, case_id=case_id, note=body.note, actor=Actor("staff", staff.id)))


@router.get("/v1/still-live", response_model=StillLiveCasePage, tags=["licences"],
            summary="Your copies still live after a kill",
            description="Your copies seen after their article was withdrawn or their licence revoked or expired "
                        "(each also announced by e-mail and the `copy.still_live` webhook). Open cases by default.",
            responses=error_responses(Unauthenticated, BadCursor))
def list_still_live(session: SessionDep, partner: CurrentPartner, status: CaseStatus = "open", cursor: Cursor = None,
                    limit: Limit = DEFAULT_LIMIT) -> StillLiveCasePage:
    rows, next_cursor = still_live.list_cases(session, status=None if status == "all" else status, partner_id=partner.id,
                                              cursor=cursor, limit=limit)
    return StillLiveCasePage(items=[case_read(c) for c in rows], next_cursor=next_cursor)

