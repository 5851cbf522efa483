"""Decisions on licence requests: staff approve, reject or counter-offer; the partner accepts or
declines a counter-offer. Every move goes through `states.transition` (the one state machine).

Races: each decision re-reads the request under a row lock (`lookups.get_request(lock=True)`),
so of two staff approving at once the second sees `approved` and gets a 409; the unique
`licence.request_id` is the last line of defence against a second licence.
"""

from __future__ import annotations

from sqlmodel import Session

from api.audit.service import Actor
from api.core.db import utcnow
from api.licensing import grants, states
from api.licensing.errors import InvalidDecision, NoCounterOffer, RequestAlreadyDecided
from api.licensing.models import Licence, LicenceRequest
from api.licensing.lookups import get_request
from api.licensing.states import RequestState
from api.partners import notifications
from api.staff import notifications as staff_notifications

KIND = "licence_request"


def _open_for_decision(request: LicenceRequest) -> None:
    """A request in a final state gets a specific 409 saying who decided it and when."""
    if not states.allowed(KIND, request.state):
        by = f" by {request.decided_by}" if request.decided_by else ""
        when = f" at {request.decided_at.isoformat()}" if request.decided_at else ""
        raise RequestAlreadyDecided(
            f"Licence request {request.id} was already {request.state}{by}{when}; reload it before acting.",
            state=str(request.state))


def _decided(request: LicenceRequest, actor: Actor) -> None:
    request.decided_by = actor.id
    request.decided_at = utcnow()
    request.updated_at = request.decided_at


def approve(
    session: Session, request_id: str, *, actor: Actor, amount: int | None = None, conditions: list[str] | None = None,
    rule_id: str | None = None, monthly_quota: int | None = None,
) -> tuple[LicenceRequest, Licence]:
    """Approve (at the quoted or offered price, or `amount`) and grant the licence."""
    request = get_request(session, request_id, lock=True)
    _open_for_decision(request)
    if amount is not None:
        request.offered_amount = amount
    final = request.offered_amount if request.offered_amount is not None else request.quoted_amount
    request.conditions = [*request.conditions, *_clean(conditions)]
    details = {"amount": final, "currency": request.currency, "conditions": request.conditions}
    if rule_id:
        details["auto_approval_rule"] = rule_id
    states.transition(session, request, RequestState.approved, kind=KIND, actor=actor, details=details)
    _decided(request, actor)
    licence = grants.grant(session, request, amount=final, conditions=request.conditions, actor=actor,
                           monthly_quota=monthly_quota)
    what = "is active now" if licence.state == "active" else "will be active once the fee is paid"
    notifications.notify_partner(
        session, partner_id=request.partner_id, subject="Your licence request was approved",
        body=(f"Licence request {request.id} was approved at {licence.amount} {licence.currency} minor units "
              f"({licence.billing_mode}). Licence {licence.id} {what}."
              + (f"\nConditions: {'; '.join(licence.conditions)}" if licence.conditions else "")),
        dedupe_key=f"request.approved:{request.id}",
    )
    return request, licence


def reject(session: Session, request_id: str, *, actor: Actor, reason: str) -> LicenceRequest:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidDecision("Say why the request is rejected: the partner reads the reason.")
    request = get_request(session, request_id, lock=True)
    _open_for_decision(request)
    states.transition(session, request, RequestState.rejected, kind=KIND, actor=actor, details={"reason": reason})
    request.decision_reason = reason
    _decided(request, actor)
    session.flush()
    notifications.notify_partner(
        session, partner_id=request.partner_id, subject="Your licence request was not approved",
        body=f"Licence request {request.id} was rejected.\nReason: {reason}", dedupe_key=f"request.rejected:{request.id}")
    return request


def counter(
    session: Session, request_id: str, *, actor: Actor, amount: int | None = None, conditions: list[str] | None = None,
    message: str | None = None,
) -> LicenceRequest:
    """Offer other terms: a price and/or conditions the partner then accepts or declines."""
    added = _clean(conditions)
    if amount is None and not added:
        raise InvalidDecision("A counter-offer changes something: give an amount, conditions, or both.")
    request = get_request(session, request_id, lock=True)
    _open_for_decision(request)
    states.transition(session, request, RequestState.countered, kind=KIND, actor=actor,
                      details={"amount": amount, "conditions": added, "message": message})
    if amount is not None:
        request.offered_amount = amount
    request.conditions = [*request.conditions, *added]
    request.decision_reason = (message or "").strip() or None
    _decided(request, actor)
    session.flush()
    offered = request.offered_amount if request.offered_amount is not None else request.quoted_amount
    notifications.notify_partner(
        session, partner_id=request.partner_id, subject="A counter-offer on your licence request",
        body=(f"For licence request {request.id} we can offer {offered} {request.currency} minor units"
              + (f" with these conditions: {'; '.join(request.conditions)}" if request.conditions else "")
              + (f".\n{request.decision_reason}" if request.decision_reason else ".")
              + f"\nAccept: POST /v1/licence-requests/{request.id}/accept; decline: .../decline."),
        dedupe_key=f"request.countered:{request.id}")
    return request


def _countered(session: Session, request_id: str, partner_id: str) -> LicenceRequest:
    request = get_request(session, request_id, partner_id=partner_id, lock=True)
    if request.state != RequestState.countered:
        _open_for_decision(request)
        raise NoCounterOffer(f"Licence request {request.id} is {request.state}: there is no counter-offer to answer.",
                             state=str(request.state))
    return request


def accept_counter(session: Session, request_id: str, *, partner_id: str) -> tuple[LicenceRequest, Licence]:
    """The partner takes the counter-offer: the request is approved on the offered terms."""
    _countered(session, request_id, partner_id)
    request, licence = approve(session, request_id, actor=Actor("partner", partner_id))
    staff_notifications.notify_staff(
        session, subject="Counter-offer accepted",
        body=f"The partner accepted the counter-offer on {request.id}; licence {licence.id} is {licence.state}.",
        dedupe_key=f"request.counter_accepted:{request.id}")
    return request, licence


def decline_counter(session: Session, request_id: str, *, partner_id: str, reason: str | None = None) -> LicenceRequest:
    request = _countered(session, request_id, partner_id)
    actor = Actor("partner", partner_id)
    states.transition(session, request, RequestState.declined, kind=KIND, actor=actor,
                      details={"reason": reason} if reason else None)
    _decided(request, actor)
    session.flush()
    staff_notifications.notify_staff(
        session, subject="Counter-offer declined",
        body=f"The partner declined the counter-offer on {request.id}." + (f"\nReason: {reason}" if reason else ""),
        dedupe_key=f"request.counter_declined:{request.id}")
    return request


def _clean(conditions: list[str] | None) -> list[str]:
    return [c.strip() for c in conditions or [] if c and c.strip()]
