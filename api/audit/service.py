"""Every state change and staff action goes through `record`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.core.middleware import current_request_id
from api.core.pagination import SortOrder, sorted_page


@dataclass(frozen=True)
class Actor:
    type: str  # "staff" | "partner" | "system"
    id: str | None = None

    @classmethod
    def system(cls, name: str = "worker") -> Actor:
        return cls("system", name)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    partner_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_type=actor.type, actor_id=actor.id, action=action, object_type=object_type,
        object_id=object_id, partner_id=partner_id, before=before, after=after,
        request_id=current_request_id.get(),
    )
    session.add(entry)
    session.flush()
    return entry


def list_entries(
    session: Session,
    *,
    partner_id: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    at_from: datetime | None = None,
    at_until: datetime | None = None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[AuditEntry], str | None]:
    # The most selective filter picks the index (one object, else one partner, else one kind of
    # object); the others are written so that no index matches them, because SQLite has no
    # statistics to choose between two indexes that each match one column.
    stmt = select(AuditEntry)
    keyed = False
    for column, value in ((AuditEntry.object_id, object_id or None), (AuditEntry.partner_id, partner_id),
                          (AuditEntry.object_type, object_type or None)):
        if value is None:
            continue
        stmt = stmt.where(func.coalesce(column, "") == value if keyed else column == value)
        keyed = True
    if at_from:
        stmt = stmt.where(AuditEntry.at >= at_from)
    if at_until:
        stmt = stmt.where(AuditEntry.at < at_until)
    return sorted_page(session, stmt, AUDIT_ORDERS, sort, cursor=cursor, limit=limit)


# By time, then id: ids share a millisecond prefix, so alone they can misorder two entries
# written in the same millisecond. Each filter's index is (filter, at, id), read either way.
AUDIT_ORDERS = {
    "newest": SortOrder("Newest first", [AuditEntry.at, AuditEntry.id], [datetime, str], descending=True),  # type: ignore[list-item]
    "oldest": SortOrder("Oldest first", [AuditEntry.at, AuditEntry.id], [datetime, str]),  # type: ignore[list-item]
}
