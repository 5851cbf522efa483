"""E-mail notifications to partners and webhook announcements, delivered through the outbox.

Callers enqueue inside their own transaction, so a message exists exactly when the change that
caused it committed; sending, retries and the SMTP settings are api.outbox.email's (e-mail to the
licensing desk is api.staff.notifications').
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, col, select

from api.outbox import service as outbox
from api.outbox.email import PARTNER, enqueue_email

log = logging.getLogger("syndicate.email")

# A signed webhook event for one partner's endpoints (delivered by api.delivery.webhooks).
WEBHOOK_TOPIC = "partner.webhook_event"


# --- enqueueing (called by services, inside the caller's transaction) -------------------------


def partner_recipients(session: Session, partner_id: str) -> list[str]:
    """The partner's billing e-mail and every contact who asked to be notified, without repeats."""
    from api.partners.models import Partner, PartnerContact

    partner = session.get(Partner, partner_id)
    if partner is None:
        return []
    contacts = session.exec(
        select(col(PartnerContact.email)).where(col(PartnerContact.partner_id) == partner_id, col(PartnerContact.notify).is_(True))
        .order_by(PartnerContact.id)
    ).all()
    seen: dict[str, str] = {}
    for address in [partner.billing_email, *contacts]:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def notify_partner(session: Session, *, partner_id: str, subject: str, body: str, dedupe_key: str) -> None:
    """Queue an e-mail to the partner's billing address and notified contacts.

    `dedupe_key` names the event (e.g. ``request.approved:lrq_...``): queueing the same key twice
    sends one e-mail.
    """
    recipients = partner_recipients(session, partner_id)
    if not recipients:
        log.warning("no recipients for partner %s; notification %r dropped", partner_id, dedupe_key)
        return
    enqueue_email(session, audience=PARTNER, to=recipients, subject=subject, body=body,
                  dedupe_key=f"{PARTNER}:{partner_id}:{dedupe_key}", partner_id=partner_id)


def announce(session: Session, *, partner_id: str, event_type: str, key: str, data: dict[str, Any]) -> None:
    """Queue a webhook event (`licence.cancelled`, ...) to every endpoint of the partner; `key`
    names the event, so queueing it twice sends it once."""
    outbox.enqueue(session, WEBHOOK_TOPIC, {"partner_id": partner_id, "type": event_type, "key": key, "data": data},
                   dedupe_key=f"announce:{key}"[:200], max_attempts=outbox.attempts_within(outbox.RETRY_WINDOW))


def notify_address(session: Session, *, partner_id: str, to: list[str], subject: str, body: str,
                   dedupe_key: str) -> None:
    """Queue an e-mail for one person of a partner (a sign-in link goes only to who asked for it)."""
    enqueue_email(session, audience=PARTNER, to=to, subject=subject, body=body,
                  dedupe_key=f"{PARTNER}:{partner_id}:{dedupe_key}", partner_id=partner_id)
