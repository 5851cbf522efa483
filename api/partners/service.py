"""Partner organisations: registration, verification, self-service changes and contacts.

Every change is audited; a verification (and a suspension) is e-mailed to the partner through
the outbox, and a self-registration is announced to the licensing desk.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pycountry
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.core.db import new_id, utcnow
from api.core.errors import Invalid
from api.core.pagination import SortOrder, contains_text, keyset_page, sorted_page
from api.partners import keys, notifications
from api.partners.models import ApiKey, Partner, PartnerContact, PartnerStatus
from api.partners.errors import ContactEmailTaken, ContactNotFound, PartnerNotFound, UnknownCountry, UnknownCurrency
from api.staff import notifications as staff_notifications


# --- validation shared by the API and the CLI ---------------------------------------------------


def normalise_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 code in upper case, or UnknownCountry."""
    value = (code or "").strip().upper()
    if len(value) != 2 or pycountry.countries.get(alpha_2=value) is None:
        raise UnknownCountry(f"'{code}' is not an ISO 3166-1 alpha-2 country code; use two letters such as GB, FR or AE.",
                             field="country")
    return value


def normalise_currency(code: str) -> str:
    """An ISO 4217 code in upper case, or UnknownCurrency."""
    value = (code or "").strip().upper()
    if len(value) != 3 or pycountry.currencies.get(alpha_3=value) is None:
        raise UnknownCurrency(f"'{code}' is not an ISO 4217 currency code; use three letters such as GBP, EUR or USD.",
                              field="currency")
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- partners ------------------------------------------------------------------------------------


def create_partner(
    session: Session, *, name: str, country: str, billing_email: str, currency: str,
    website: str | None = None, contacts: list[dict] | None = None, status: PartnerStatus = PartnerStatus.pending,
    actor: audit.Actor, partner_id: str | None = None,
) -> Partner:
    partner = Partner(
        id=partner_id or new_id("ptn"), name=name.strip(), country=normalise_country(country), billing_email=str(billing_email),
        currency=normalise_currency(currency), website=_text(website), status=status,
        verified_at=utcnow() if status == PartnerStatus.active else None,
    )
    session.add(partner)
    session.flush()
    for contact in contacts or []:
        add_contact(session, partner_id=partner.id, actor=actor, audited=False, **contact)
    audit.record(session, actor=actor, action="partner.created", object_type="partner", object_id=partner.id,
                 partner_id=partner.id, after={"name": partner.name, "status": str(status), "country": partner.country,
                                               "currency": partner.currency})
    session.flush()
    return partner


def register_partner(
    session: Session, *, name: str, country: str, billing_email: str, currency: str, website: str | None = None,
    contacts: list[dict] | None = None, key_name: str = "default", verified: bool = False, actor: audit.Actor | None = None,
) -> tuple[Partner, ApiKey, str]:
    """Create a partner with its first API key; return (partner, key, raw key shown once).

    Without `actor` this is a self-registration: the partner starts pending and the desk is told.
    The partner itself is not e-mailed until it is verified: the address is unproven, and a public
    endpoint that mails any address it is given would be a tool for spamming strangers.
    """
    self_registered = actor is None
    status = PartnerStatus.active if verified and not self_registered else PartnerStatus.pending
    partner_id = new_id("ptn")
    # A self-registering partner is the actor of its own creation, so its id is chosen up front.
    actor = actor or audit.Actor("partner", partner_id)
    partner = create_partner(
        session, name=name, country=country, billing_email=billing_email, currency=currency, website=website,
        contacts=contacts, status=status, actor=actor, partner_id=partner_id,
    )
    key, raw = keys.create_key(session, partner_id=partner.id, name=key_name, actor=actor)
    if self_registered:
        staff_notifications.notify_staff(
            session, subject=f"New partner registration: {partner.name}",
            body=(f"{partner.name} ({partner.country}, {partner.billing_email}) registered as a partner and is "
                  f"waiting for verification.\nPartner id: {partner.id}\nWebsite: {partner.website or '-'}\n"),
            dedupe_key=f"partner.registered:{partner.id}",
        )
    return partner, key, raw


def get_partner(session: Session, partner_id: str) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise PartnerNotFound(f"No partner {partner_id}.")
    return partner


PARTNER_ORDERS = {
    "newest": SortOrder("Newest first", [Partner.created_at, Partner.id], [datetime, str], descending=True),  # type: ignore[list-item]
    "name": SortOrder("By name", [Partner.name, Partner.id], [str, str]),  # type: ignore[list-item]
}


def partner_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """Partner id -> name for the partners of `ids` that exist, in one query (a page's or an export's rows)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.exec(select(Partner.id, Partner.name).where(col(Partner.id).in_(wanted))).all()
    return {pid: name for pid, name in rows}


def list_partners(
    session: Session, *, status: PartnerStatus | None = None, text: str | None = None, sort: str = "newest",
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[Partner], str | None]:
    """Newest first, or by name; `text` keeps partners whose name, website or billing address
    contains it (any case), checked while the order's index is read."""
    stmt = select(Partner)
    if status is not None:
        stmt = stmt.where(Partner.status == status)
    if text and text.strip():
        stmt = stmt.where(contains_text([Partner.name, Partner.website, Partner.billing_email], text))
    return sorted_page(session, stmt, PARTNER_ORDERS, sort, cursor=cursor, limit=limit)


def update_partner(session: Session, partner_id: str, *, changes: dict[str, Any], actor: audit.Actor) -> Partner:
    """Apply a partner's own changes (never its status: that is `set_status`)."""
    partner = get_partner(session, partner_id)
    allowed = {"name", "website", "country", "billing_email", "currency"}
    unexpected = set(changes) - allowed
    if unexpected:
        raise Invalid(f"These fields cannot be changed here: {', '.join(sorted(unexpected))}.")
    if "country" in changes:
        changes["country"] = normalise_country(changes["country"])
    if "currency" in changes:
        changes["currency"] = normalise_currency(changes["currency"])
    before, after = {}, {}
    for field, value in changes.items():
        value = value.strip() if field == "name" else _text(value)
        if getattr(partner, field) != value:
            before[field], after[field] = getattr(partner, field), value
            setattr(partner, field, value)
    if after:
        partner.updated_at = utcnow()
        session.add(partner)
        audit.record(session, actor=actor, action="partner.updated", object_type="partner", object_id=partner.id,
                     partner_id=partner.id, before=before, after=after)
        session.flush()
    return partner


_STATUS_MAIL = {
    PartnerStatus.active: (
        "Your Syndicate partner account is verified",
        "The licensing desk has verified {name}. Requests from your account can now be approved automatically "
        "when they meet the standard terms.\n",
    ),
    PartnerStatus.suspended: (
        "Your Syndicate partner account is suspended",
        "The licensing desk has suspended {name}; your API keys no longer work. {reason}"
        "Reply to this message or contact the licensing desk to resolve it.\n",
    ),
}


def set_status(
    session: Session, partner_id: str, status: PartnerStatus, *, actor: audit.Actor, reason: str | None = None,
) -> Partner:
    """Move a partner to `status` (audited, and e-mailed to the partner); the same status again is a no-op."""
    partner = get_partner(session, partner_id)
    if partner.status == status:
        return partner
    before = str(partner.status)
    partner.status = status
    if status == PartnerStatus.active and partner.verified_at is None:
        partner.verified_at = utcnow()
    partner.updated_at = utcnow()
    session.add(partner)
    entry = audit.record(session, actor=actor, action=f"partner.{status}", object_type="partner", object_id=partner.id,
                         partner_id=partner.id, before={"status": before},
                         after={"status": str(status), **({"reason": reason} if reason else {})})
    if status in _STATUS_MAIL:
        subject, body = _STATUS_MAIL[status]
        notifications.notify_partner(
            session, partner_id=partner.id, subject=subject,
            body=body.format(name=partner.name, reason=f"Reason: {reason}\n" if reason else ""),
            dedupe_key=f"partner.{status}:{entry.id}",
        )
    session.flush()
    return partner


def verify_partner(session: Session, partner_id: str, *, actor: audit.Actor, reason: str | None = None) -> Partner:
    """Verify a pending partner, or reactivate a suspended one."""
    return set_status(session, partner_id, PartnerStatus.active, actor=actor, reason=reason)


def suspend_partner(session: Session, partner_id: str, *, actor: audit.Actor, reason: str | None = None) -> Partner:
    return set_status(session, partner_id, PartnerStatus.suspended, actor=actor, reason=reason)


# --- contacts ------------------------------------------------------------------------------------


def list_contacts(session: Session, *, partner_id: str, cursor: str | None = None, limit: int = 50
                  ) -> tuple[list[PartnerContact], str | None]:
    stmt = select(PartnerContact).where(PartnerContact.partner_id == partner_id)
    return keyset_page(session, stmt, columns=[col(PartnerContact.id)], kinds=[str], cursor=cursor, limit=limit)


def all_contacts(session: Session, *, partner_id: str) -> list[PartnerContact]:
    return list(session.exec(select(PartnerContact).where(PartnerContact.partner_id == partner_id)
                             .order_by(PartnerContact.id)).all())


def get_contact(session: Session, *, partner_id: str, contact_id: str) -> PartnerContact:
    """The partner's contact; another partner's contact is simply not found."""
    contact = session.get(PartnerContact, contact_id)
    if contact is None or contact.partner_id != partner_id:
        raise ContactNotFound(f"No contact {contact_id} on your account.")
    return contact


def _save_contact(session: Session, contact: PartnerContact) -> None:
    # The unique constraint decides; the savepoint keeps the request's transaction usable on PostgreSQL.
    # The address is read first: a failed savepoint expires the row, and reloading it is not allowed then.
    email = contact.email
    try:
        with session.begin_nested():
            session.add(contact)
            session.flush()
    except IntegrityError as exc:
        raise ContactEmailTaken(f"{email} is already a contact on this account; update that contact instead.",
                                field="email") from exc


def add_contact(
    session: Session, *, partner_id: str, name: str, email: str, role: str | None = None, notify: bool = True,
    actor: audit.Actor, audited: bool = True,
) -> PartnerContact:
    contact = PartnerContact(partner_id=partner_id, name=name.strip(), email=str(email).lower(), role=role, notify=notify)
    _save_contact(session, contact)
    if audited:
        audit.record(session, actor=actor, action="contact.created", object_type="partner_contact",
                     object_id=contact.id, partner_id=partner_id, after=_contact_fields(contact))
    return contact


def update_contact(
    session: Session, *, partner_id: str, contact_id: str, changes: dict[str, Any], actor: audit.Actor,
) -> PartnerContact:
    contact = get_contact(session, partner_id=partner_id, contact_id=contact_id)
    before = _contact_fields(contact)
    for field in ("name", "email", "role", "notify"):
        if field in changes:
            value = changes[field]
            setattr(contact, field, str(value).lower() if field == "email" else value)
    _save_contact(session, contact)
    after = _contact_fields(contact)
    if after != before:
        audit.record(session, actor=actor, action="contact.updated", object_type="partner_contact",
                     object_id=contact.id, partner_id=partner_id, before=before, after=after)
    return contact


def delete_contact(session: Session, *, partner_id: str, contact_id: str, actor: audit.Actor) -> None:
    contact = get_contact(session, partner_id=partner_id, contact_id=contact_id)
    audit.record(session, actor=actor, action="contact.deleted", object_type="partner_contact",
                 object_id=contact.id, partner_id=partner_id, before=_contact_fields(contact))
    session.delete(contact)
    session.flush()


def _contact_fields(contact: PartnerContact) -> dict[str, Any]:
    return {"name": contact.name, "email": contact.email, "role": contact.role, "notify": contact.notify}
