"""Partner organisations: registration, verification and lookup."""

from __future__ import annotations

from sqlmodel import Session

from api.audit import service as audit
from api.core.db import utcnow
from api.core.errors import NotFound
from api.partners.models import Partner, PartnerContact, PartnerStatus


class PartnerNotFound(NotFound):
    slug = "partner-not-found"
    title = "No such partner"


def create_partner(
    session: Session, *, name: str, country: str, billing_email: str, currency: str,
    website: str | None = None, contacts: list[dict] | None = None, status: PartnerStatus = PartnerStatus.pending,
    actor: audit.Actor,
) -> Partner:
    partner = Partner(name=name, country=country.upper(), billing_email=billing_email, currency=currency.upper(),
                      website=website, status=status, verified_at=utcnow() if status == PartnerStatus.active else None)
    session.add(partner)
    session.flush()
    for contact in contacts or []:
        session.add(PartnerContact(partner_id=partner.id, **contact))
    audit.record(session, actor=actor, action="partner.created", object_type="partner", object_id=partner.id,
                 partner_id=partner.id, after={"name": name, "status": str(status)})
    session.flush()
    return partner


def get_partner(session: Session, partner_id: str) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise PartnerNotFound(f"No partner {partner_id}.")
    return partner


def set_status(session: Session, partner_id: str, status: PartnerStatus, *, actor: audit.Actor) -> Partner:
    partner = get_partner(session, partner_id)
    before = str(partner.status)
    partner.status = status
    if status == PartnerStatus.active and partner.verified_at is None:
        partner.verified_at = utcnow()
    partner.updated_at = utcnow()
    session.add(partner)
    audit.record(session, actor=actor, action=f"partner.{status}", object_type="partner", object_id=partner.id,
                 partner_id=partner.id, before={"status": before}, after={"status": str(status)})
    session.flush()
    return partner
