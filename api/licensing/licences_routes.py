"""Licences over HTTP: a partner's own licences, and staff listing and revocation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.audit.service import Actor
from api.core.errors import BadCursor, InvalidStateTransition, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import error_responses
from api.core.times import UTCTime
from api.deps import CurrentPartner, SessionDep, StaffMayLicensing, sort_query
from api.licensing import service
from api.licensing.errors import InvalidDecision, LicenceNotFound
from api.licensing.schemas import CancelBody, LicencePage, LicenceRead, RevokeBody
from api.licensing.states import LicenceState
from api.staff.errors import RoleRequired

router = APIRouter(tags=["licences"])
Licensing = StaffMayLicensing
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/v1/licences", response_model=LicencePage, summary="Your licences", description="Newest first.",
            responses=error_responses(Unauthenticated, BadCursor, ValidationFailed))
def list_licences(session: SessionDep, partner: CurrentPartner, status: LicenceState | None = None,
                  cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> LicencePage:
    rows, next_cursor = service.list_licences(session, partner_id=partner.id, state=status, cursor=cursor, limit=limit)
    return LicencePage(items=[LicenceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/licences/{licence_id}", response_model=LicenceRead, summary="One of your licences",
            responses=error_responses(LicenceNotFound, Unauthenticated))
def get_licence(licence_id: str, session: SessionDep, partner: CurrentPartner) -> LicenceRead:
    return LicenceRead.model_validate(service.get_licence(session, licence_id, partner_id=partner.id))


@router.post("/v1/licences/{licence_id}/cancel", response_model=LicenceRead, summary="Withdraw an unpaid licence",
             description="Only while it awaits payment: the licence is cancelled and its invoice voided, so nothing "
                         "is owed. Cancelling a cancelled licence changes nothing.",
             responses=error_responses(LicenceNotFound, InvalidStateTransition, ValidationFailed, Unauthenticated))
def cancel_licence(licence_id: str, session: SessionDep, partner: CurrentPartner,
                   body: Annotated[CancelBody | None, Body(openapi_examples={"withdraw": {
                       "summary": "Withdraw, saying why (the body may be left out)",
                       "value": {"reason": "The story ran without the photo; we no longer need the licence."}}})] = None,
                   ) -> LicenceRead:
    licence = service.cancel_licence(session, licence_id, partner_id=partner.id, actor=Actor("partner", partner.id),
                                     reason=body.reason if body else None)
    return LicenceRead.model_validate(licence)


@router.get("/v1/staff/licences", response_model=LicencePage, summary="All licences",
            description="Newest first; filter by partner, status, request or end date.",
            responses=error_responses(Unauthenticated, RoleRequired, BadCursor, ValidationFailed))
def staff_list_licences(
    session: SessionDep, staff: Licensing, partner_id: str | None = None, status: LicenceState | None = None,
    request_id: str | None = None,
    ends_before: Annotated[UTCTime | None, Query(description="Only licences ending before this time.")] = None,
    cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT, sort: Annotated[str, sort_query(service.LICENCE_ORDERS)] = "newest",
) -> LicencePage:
    rows, next_cursor = service.list_licences(session, partner_id=partner_id, state=status, request_id=request_id,
                                               ends_before=ends_before, sort=sort, cursor=cursor, limit=limit)
    return LicencePage(items=[LicenceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/staff/licences/{licence_id}", response_model=LicenceRead, summary="A licence",
            responses=error_responses(LicenceNotFound, Unauthenticated, RoleRequired))
def staff_get_licence(licence_id: str, session: SessionDep, staff: Licensing) -> LicenceRead:
    return LicenceRead.model_validate(service.get_licence(session, licence_id))


@router.post("/v1/staff/licences/{licence_id}/revoke", response_model=LicenceRead, summary="Revoke a licence",
             description="Takes effect at once; the partner is told the reason. Revoking a revoked licence changes nothing.",
             responses=error_responses(LicenceNotFound, InvalidStateTransition, InvalidDecision, ValidationFailed,
                                       Unauthenticated, RoleRequired))
def revoke(licence_id: str, body: RevokeBody, session: SessionDep, staff: Licensing) -> LicenceRead:
    return LicenceRead.model_validate(service.revoke(session, licence_id, reason=body.reason, actor=Actor("staff", staff.id)))


@router.post("/v1/staff/licences/{licence_id}/cancel", response_model=LicenceRead,
             summary="Cancel a licence awaiting payment",
             description="Only while it awaits payment: its invoice is voided (Stripe) or cancelled (ledger) and the "
                         "partner is told the reason by e-mail and a `licence.cancelled` webhook.",
             responses=error_responses(LicenceNotFound, InvalidStateTransition, InvalidDecision, ValidationFailed,
                                       Unauthenticated, RoleRequired))
def staff_cancel(licence_id: str, body: CancelBody, session: SessionDep, staff: Licensing) -> LicenceRead:
    return LicenceRead.model_validate(service.cancel_licence(session, licence_id, reason=body.reason,
                                                             actor=Actor("staff", staff.id)))
