"""Staff (admin) view of the outbox: see what is waiting or dead, and revive it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.audit.service import Actor
from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import error_responses
from api.deps import SessionDep, StaffMayOutbox, sort_query
from api.outbox import service
from api.outbox.schemas import OutboxMessagePage, OutboxMessageRead
from api.outbox.errors import OutboxMessageNotFound, OutboxMessageNotRetryable
from api.staff.errors import ReauthenticationRequired, RoleRequired

router = APIRouter(prefix="/v1/staff/outbox", tags=["staff"])
Admin = StaffMayOutbox


@router.get("", response_model=OutboxMessagePage, summary="List outbox messages",
            description="E-mails, partner webhooks and provider calls waiting to leave, delivered, or dead "
                        "(given up after their retries). Newest first. Role `admin`.",
            responses=error_responses(Unauthenticated, RoleRequired, BadCursor, ValidationFailed))
def list_messages(
    session: SessionDep, admin: Admin,
    status: Annotated[Literal["pending", "done", "dead"] | None, Query(description="Only messages in this state.")] = None,
    topic: Annotated[str | None, Query(max_length=60, description="Only this topic, e.g. `email.send`.")] = None,
    cursor: Annotated[str | None, Query(description="From `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    sort: Annotated[str, sort_query(service.MESSAGE_ORDERS)] = "newest",
) -> OutboxMessagePage:
    rows, next_cursor = service.list_messages(session, status=status, topic=topic, sort=sort, cursor=cursor, limit=limit)
    return OutboxMessagePage(items=[OutboxMessageRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/{message_id}/retry", response_model=OutboxMessageRead, summary="Retry an outbox message now",
             description="A dead message is revived with a fresh run of attempts; a pending one is made due at once; "
                         "a delivered one is refused. Role `admin`; audited.",
             responses=error_responses(Unauthenticated, RoleRequired, ReauthenticationRequired, OutboxMessageNotFound,
                                       OutboxMessageNotRetryable))
def retry_message(message_id: str, session: SessionDep, admin: Admin) -> OutboxMessageRead:
    message = service.retry(session, message_id=message_id, actor=Actor("staff", admin.id))
    return OutboxMessageRead.model_validate(message)
