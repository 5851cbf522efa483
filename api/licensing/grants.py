"""Turning an approved request into a licence, and moving licences through their states.

This is the seam the other domains use: billing activates and suspends, delivery reads, and
jobs expire. Every change goes through `states.transition` (audited) and then tells listeners
(for example delivery's caches) that the licence changed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from api.audit.service import Actor
from api.core.db import utcnow
from api.licensing import states
from api.licensing.billing_work import BILLING_MAX_ATTEMPTS, CHARGE_TOPIC, VOID_TOPIC
from api.licensing.errors import LicenceNotFound
from api.licensing.models import BillingMode, Licence, LicenceRequest
from api.licensing.states import LicenceState
from api.outbox import service as outbox

LicenceListener = Callable[[Session, Licence], None]
_listeners: list[LicenceListener] = []


def on_licence_change(listener: LicenceListener) -> LicenceListener:
    """Register a function called (inside the same transaction) whenever a licence changes."""
    _listeners.append(listener)
    return listener


def _changed(session: Session, licence: Licence) -> None:
    licence.updated_at = utcnow()
    session.add(licence)
    session.flush()
    for listener in _listeners:
        listener(session, licence)


def notify_changed(session: Session, licence: Licence) -> None:
    """Tell listeners that the licence (or something delivery reads with it, like a quota grant) changed."""
    _changed(session, licence)


def get_licence(session: Session, licence_id: str, *, partner_id: str | None = None) -> Licence:
    """The licence, or NotFound; with `partner_id`, another partner's licence is not found either."""
    licence = session.get(Licence, licence_id)
    if licence is None or (partner_id is not None and licence.partner_id != partner_id):
        raise LicenceNotFound(f"No licence {licence_id}.")
    return licence


def grant(
    session: Session, request: LicenceRequest, *, amount: int, conditions: list[str], actor: Actor,
    monthly_quota: int | None = None,
) -> Licence:
    """Create the licence for an approved request, in the same transaction as the approval.

    Free licences start active. Metered (usage) licences also start active: they are billed in
    arrears at the end of each period, and suspended if that invoice goes unpaid. Every other
    licence awaits payment, and a `invoicing.charge_licence` message is queued to charge it."""
    free = amount == 0 or request.billing_mode == BillingMode.free
    mode = BillingMode.free if free else request.billing_mode
    terms = {name: getattr(request, name) for name in (
        "scope", "article_ids", "section", "use", "territories", "language", "translation",
        "starts_at", "ends_at", "audience_size", "publication_url", "max_live_articles")}
    licence = Licence(
        request_id=request.id, partner_id=request.partner_id, currency=request.currency, amount=0 if free else amount,
        billing_mode=mode, conditions=conditions, monthly_quota=monthly_quota,
        state=LicenceState.active if free or mode == BillingMode.usage else LicenceState.awaiting_payment, **terms,
    )
    session.add(licence)
    session.flush()
    from api.audit import service as audit

    audit.record(session, actor=actor, action="licence.granted", object_type="licence", object_id=licence.id,
                 partner_id=licence.partner_id, after={"state": str(licence.state), "amount": licence.amount,
                                                        "currency": licence.currency, "billing_mode": str(mode)})
    if not free:
        outbox.enqueue(session, CHARGE_TOPIC, {"licence_id": licence.id},
                       dedupe_key=f"charge-licence:{licence.id}", max_attempts=BILLING_MAX_ATTEMPTS)
    _changed(session, licence)
    return licence


def move(session: Session, licence: Licence, to: LicenceState, *, actor: Actor, reason: str | None = None) -> Licence:
    """Apply a licence transition (activate, suspend, expire, revoke) and notify listeners."""
    states.transition(session, licence, to, kind="licence", actor=actor,
                      details={"reason": reason} if reason else None)
    _changed(session, licence)
    return licence


def activate(session: Session, licence: Licence, *, actor: Actor, reason: str | None = None) -> Licence:
    """Idempotent: activating an active licence changes nothing (payment events can repeat)."""
    if licence.state == LicenceState.active:
        return licence
    return move(session, licence, LicenceState.active, actor=actor, reason=reason)


def suspend(session: Session, licence: Licence, *, actor: Actor, reason: str | None = None) -> Licence:
    if licence.state == LicenceState.suspended:
        return licence
    return move(session, licence, LicenceState.suspended, actor=actor, reason=reason)


def expire(session: Session, licence: Licence, *, actor: Actor) -> Licence:
    if licence.state == LicenceState.expired:
        return licence
    return move(session, licence, LicenceState.expired, actor=actor, reason="period ended")


def cancel(session: Session, licence: Licence, *, actor: Actor, reason: str) -> Licence:
    """An unpaid licence is called off; its invoice is voided after this transaction commits (the
    provider is called by the outbox, never inside it). Cancelling a cancelled licence changes nothing."""
    if licence.state == LicenceState.cancelled:
        return licence
    move(session, licence, LicenceState.cancelled, actor=actor, reason=reason)
    outbox.enqueue(session, VOID_TOPIC, {"licence_id": licence.id}, dedupe_key=f"void-licence-invoices:{licence.id}",
                   max_attempts=BILLING_MAX_ATTEMPTS)
    return licence
