"""The licence lifecycle, as data, and the one function that moves an object through it.

Exactly the list in docs/product-rules.md, "Licence request states" (any other transition is refused):
Requests:  submitted -> in_review -> approved | rejected | countered;  countered -> approved | declined
Licences:  awaiting_payment -> active | cancelled;  active -> expired | revoked | suspended;
           suspended -> active (paid) | revoked.   A free licence is created `active`.
An unpaid licence is cancelled when the partner withdraws, staff cancel it, or its invoice is
still unpaid past its due date plus the grace period; its invoice is voided.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from api.audit import service as audit
from api.core.db import utcnow
from api.core.errors import InvalidStateTransition


class RequestState(StrEnum):
    submitted = "submitted"
    in_review = "in_review"
    approved = "approved"
    rejected = "rejected"
    countered = "countered"
    declined = "declined"


class LicenceState(StrEnum):
    awaiting_payment = "awaiting_payment"
    active = "active"
    suspended = "suspended"
    expired = "expired"
    revoked = "revoked"
    cancelled = "cancelled"


REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestState.submitted: frozenset({RequestState.in_review}),
    RequestState.in_review: frozenset({RequestState.approved, RequestState.rejected, RequestState.countered}),
    RequestState.countered: frozenset({RequestState.approved, RequestState.declined}),
    RequestState.approved: frozenset(),
    RequestState.rejected: frozenset(),
    RequestState.declined: frozenset(),
}

LICENCE_TRANSITIONS: dict[str, frozenset[str]] = {
    LicenceState.awaiting_payment: frozenset({LicenceState.active, LicenceState.cancelled}),
    LicenceState.active: frozenset({LicenceState.expired, LicenceState.revoked, LicenceState.suspended}),
    LicenceState.suspended: frozenset({LicenceState.active, LicenceState.revoked}),
    LicenceState.expired: frozenset(),
    LicenceState.revoked: frozenset(),
    LicenceState.cancelled: frozenset(),
}

MACHINES: dict[str, dict[str, frozenset[str]]] = {
    "licence_request": REQUEST_TRANSITIONS,
    "licence": LICENCE_TRANSITIONS,
}


StateT = TypeVar("StateT", bound=str)


class Stateful(Protocol[StateT]):
    id: str
    partner_id: str
    state: StateT
    state_changed_at: Any


def allowed(kind: str, current: str) -> frozenset[str]:
    return MACHINES[kind][current]


def transition(
    session: Session,
    obj: Stateful[StateT],
    to: StateT,
    *,
    kind: str,
    actor: audit.Actor,
    action: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Move `obj` to state `to` if the machine allows it, and audit the change.

    Callers that race (two approvals at once) must hold a row lock or use a conditional update
    before calling; this function checks the state it was given.
    """
    current = str(obj.state)
    if to not in MACHINES[kind][current]:
        nexts = ", ".join(sorted(MACHINES[kind][current])) or "none (final state)"
        raise InvalidStateTransition(
            f"A {kind.replace('_', ' ')} in state '{current}' cannot become '{to}'; allowed next states: {nexts}.",
            current_state=current, requested_state=to,
        )
    obj.state = to
    obj.state_changed_at = utcnow()
    session.add(obj)
    audit.record(
        session, actor=actor, action=action or f"{kind}.{to}", object_type=kind, object_id=obj.id,
        partner_id=obj.partner_id, before={"state": current}, after={"state": to, **(details or {})},
    )
