"""Licences as partners and staff see them, revocation, and expiry on time.

State changes go through `grants` (which uses the one state machine and tells listeners).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.audit.service import Actor
from api.core.db import is_postgres, session_scope, utcnow
from api.core.pagination import SortOrder, sorted_page
from api.licensing import grants
from api.licensing.errors import InvalidDecision
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.partners import notifications

EXPIRY_ACTOR = Actor.system("expiry")


LICENCE_ORDERS = {
    "newest": SortOrder("Newest first", [Licence.id], [str], descending=True),  # type: ignore[list-item]
    "ends": SortOrder("Ending soonest", [Licence.ends_at, Licence.id], [datetime, str]),  # type: ignore[list-item]
}


def list_licences(
    session: Session, *, partner_id: str | None = None, state: LicenceState | None = None,
    request_id: str | None = None, ends_before: datetime | None = None, ends_after: datetime | None = None,
    sort: str = "newest", cursor: str | None = None, limit: int = 50,
) -> tuple[list[Licence], str | None]:
    """Newest first, or (`sort="ends"`) ending soonest first. A partner's listing passes its own
    `partner_id`; staff may filter by any. Each order has a (partner_id, key, id), (state, key, id)
    and (key, id) index."""
    stmt = select(Licence)
    if partner_id:
        stmt = stmt.where(Licence.partner_id == partner_id)
    if state:
        stmt = stmt.where(Licence.state == state)
    if request_id:
        stmt = stmt.where(Licence.request_id == request_id)
    if ends_before:
        stmt = stmt.where(Licence.ends_at < ends_before)
    if ends_after:
        stmt = stmt.where(Licence.ends_at >= ends_after)
    return sorted_page(session, stmt, LICENCE_ORDERS, sort, cursor=cursor, limit=limit)


def revoke(session: Session, licence_id: str, *, reason: str, actor: Actor) -> Licence:
    """The one revoke, for staff and for billing (a feed subscription cancelled at the provider):
    the licence is re-read under a lock, moved through the state machine (audited) and the partner
    told why. Revoking a revoked licence changes nothing and sends nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidDecision("Say why the licence is revoked: the partner is told the reason.")
    licence = _locked(session, licence_id)
    if licence.state != LicenceState.revoked:
        grants.move(session, licence, LicenceState.revoked, actor=actor, reason=reason)
        notifications.notify_partner(
            session, partner_id=licence.partner_id, subject="A licence was revoked",
            body=f"Licence {licence.id} was revoked and its content is no longer available to you.\nReason: {reason}",
            dedupe_key=f"licence.revoked:{licence.id}")
    return licence


def _locked(session: Session, licence_id: str, *, partner_id: str | None = None) -> Licence:
    """The licence, re-read and row-locked (PostgreSQL) so two changes at once apply one after the
    other; with `partner_id`, another partner's licence is not found."""
    stmt = select(Licence).where(Licence.id == licence_id).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    licence = session.exec(stmt).first()
    if licence is None or (partner_id is not None and licence.partner_id != partner_id):
        raise grants.LicenceNotFound(f"No licence {licence_id}.")
    return licence


def cancel(session: Session, licence_id: str, *, actor: Actor, reason: str | None = None,
           partner_id: str | None = None) -> Licence:
    """Call off a licence still awaiting payment (the partner withdraws, with its own `partner_id`;
    staff cancel; or the unpaid-invoice job). Any other state is refused by the state machine;
    repeating a cancellation changes nothing. The invoice is voided and the partner told."""
    reason = (reason or "").strip() or ("withdrawn by the partner" if partner_id else "")
    if not reason:
        raise InvalidDecision("Say why the licence is cancelled: the partner is told the reason.")
    licence = _locked(session, licence_id, partner_id=partner_id)
    if licence.state == LicenceState.cancelled:
        return licence
    grants.cancel(session, licence, actor=actor, reason=reason)
    notifications.notify_partner(
        session, partner_id=licence.partner_id, subject="A licence was cancelled",
        body=(f"Licence {licence.id} was cancelled before it was paid, and its invoice is void: nothing is owed "
              f"for it and its content will not be available.\nReason: {reason}"),
        dedupe_key=f"licence.cancelled:{licence.id}")
    notifications.announce(session, partner_id=licence.partner_id, event_type="licence.cancelled",
                           key=f"licence.cancelled:{licence.id}",
                           data={"licence_id": licence.id, "request_id": licence.request_id, "reason": reason,
                                 "version": 1, "occurred_at": licence.state_changed_at.isoformat(),
                                 "cancelled_at": licence.state_changed_at.isoformat()})
    return licence


def expire_due(engine: Engine, *, now: datetime | None = None, batch_size: int = 200) -> int:
    """Expire active licences whose period has ended, a batch per transaction; returns how many.

    Idempotent and safe in several workers at once: PostgreSQL workers skip rows another holds
    (`FOR UPDATE SKIP LOCKED`), SQLite runs one writer at a time, and expired rows no longer match.
    """
    now = now or utcnow()
    total = 0
    while True:
        with session_scope(engine) as session:
            stmt = (select(Licence).where(Licence.state == LicenceState.active, Licence.ends_at <= now)
                    .order_by(col(Licence.ends_at), col(Licence.id)).limit(batch_size))
            if is_postgres(session):
                stmt = stmt.with_for_update(skip_locked=True)
            batch = list(session.exec(stmt).all())
            for licence in batch:
                grants.expire(session, licence, actor=EXPIRY_ACTOR)
                notifications.notify_partner(
                    session, partner_id=licence.partner_id, subject="A licence has expired",
                    body=f"Licence {licence.id} reached the end of its period ({licence.ends_at.isoformat()}).",
                    dedupe_key=f"licence.expired:{licence.id}")
        total += len(batch)
        if len(batch) < batch_size:
            return total
