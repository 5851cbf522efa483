"""Reading the audit trail: staff see everything, a partner sees the entries about itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import service
from api.audit.schemas import EXAMPLE, AuditEntryRead
from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.pagination import Page
from api.core.problems import error_responses
from api.deps import CurrentPartner, SessionDep, StaffMayAudit, sort_query
from api.staff.errors import RoleRequired

router = APIRouter(tags=["audit"])
_PAGE_EXAMPLE: dict[int | str, dict] = {200: {"content": {"application/json": {"example": {"items": [EXAMPLE], "next_cursor": None}}}}}
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
ObjectType = Annotated[str | None, Query(max_length=40, description="e.g. `partner`, `api_key`, `licence_request`.",
                                         examples=["partner"])]
ObjectId = Annotated[str | None, Query(max_length=40, description="The id of one object.")]


@router.get("/v1/staff/audit", response_model=Page[AuditEntryRead], summary="Search the audit trail (staff)",
            description="Roles: licensing or admin. Newest first; filter by object and by partner.",
            responses={**_PAGE_EXAMPLE, **error_responses(Unauthenticated, RoleRequired, BadCursor, ValidationFailed)})
def staff_audit(
    staff: StaffMayAudit, session: SessionDep, object_type: ObjectType = None, object_id: ObjectId = None,
    partner_id: Annotated[str | None, Query(max_length=40, description="Entries about this partner.")] = None,
    cursor: Cursor = None, limit: Limit = 50, sort: Annotated[str, sort_query(service.AUDIT_ORDERS)] = "newest",
) -> Page[AuditEntryRead]:
    rows, next_cursor = service.list_entries(session, partner_id=partner_id, object_type=object_type,
                                             object_id=object_id, sort=sort, cursor=cursor, limit=limit)
    return Page[AuditEntryRead](items=[AuditEntryRead.model_validate(e) for e in rows], next_cursor=next_cursor)


@router.get("/v1/audit", response_model=Page[AuditEntryRead], summary="Your audit trail",
            description="The entries about your own account, requests and licences, newest first.",
            responses={**_PAGE_EXAMPLE, **error_responses(Unauthenticated, BadCursor, ValidationFailed)})
def partner_audit(
    partner: CurrentPartner, session: SessionDep, object_type: ObjectType = None, object_id: ObjectId = None,
    cursor: Cursor = None, limit: Limit = 50,
) -> Page[AuditEntryRead]:
    rows, next_cursor = service.list_entries(session, partner_id=partner.id, object_type=object_type,
                                             object_id=object_id, cursor=cursor, limit=limit)
    return Page[AuditEntryRead](items=[AuditEntryRead.for_partner(e) for e in rows], next_cursor=next_cursor)
