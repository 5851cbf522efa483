"""The partner portal's rules: one-time sign-in links, server-side portal sessions, and the
republish form's submission (a pending partner or a recognised one, and its licence request,
exactly once per form). Requests, partners and e-mail go through their own services."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.audit.service import Actor
from api.core.config import Settings
from api.core.db import new_id, utcnow
from api.licensing import service as licensing
from api.licensing.models import LicenceRequest
from api.partners import notifications
from api.partners import keys as partner_keys
from api.partners import service as partners
from api.partners.models import Partner, PartnerContact
from api.portal.errors import PortalSignedOut, SignInLinkInvalid
from api.portal.models import PortalSession, PortalSignIn, RepublishSubmission

SIGN_IN_PATH = "/portal/sign-in/"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- sign-in links and sessions ------------------------------------------------------------------


def issue_sign_in_link(session: Session, settings: Settings, *, partner_id: str, email: str) -> str:
    """Store a one-time link for `email` and return its URL (the raw token is never stored)."""
    raw = secrets.token_urlsafe(32)
    session.add(PortalSignIn(token_hash=_hash(raw), partner_id=partner_id, email=email.lower(),
                             expires_at=utcnow() + timedelta(minutes=settings.portal_sign_in_minutes)))
    session.flush()
    return f"{settings.public_base_url}{SIGN_IN_PATH}{raw}"


def _open_session(session: Session, settings: Settings, *, partner_id: str, email: str | None) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(PortalSession(token_hash=_hash(raw), partner_id=partner_id, email=email,
                              expires_at=utcnow() + timedelta(hours=settings.portal_session_hours)))
    session.flush()
    return raw


def redeem_sign_in_link(session: Session, settings: Settings, raw: str) -> str:
    """Use a link once: mark it used, prove the address (the partner is verified only by staff), and
    open a session. Returns the session token for the cookie."""
    link = session.exec(select(PortalSignIn).where(PortalSignIn.token_hash == _hash(raw))).first()
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise SignInLinkInvalid("This sign-in link has been used or has expired. Ask for a new one on the sign-in page.")
    link.used_at = utcnow()
    session.add(link)
    return _open_session(session, settings, partner_id=link.partner_id, email=link.email)


def sign_in_with_key(session: Session, settings: Settings, raw_key: str) -> str:
    partner, _key = partner_keys.authenticate_key(session, raw_key.strip())
    return _open_session(session, settings, partner_id=partner.id, email=None)


@dataclass
class PortalUser:
    partner: Partner
    session_id: str
    email: str | None


def authenticate(session: Session, raw: str | None) -> PortalUser:
    if not raw:
        raise PortalSignedOut("Sign in to see your licences.")
    row = session.exec(select(PortalSession).where(PortalSession.token_hash == _hash(raw))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise PortalSignedOut("Your portal session has ended; sign in again.")
    return PortalUser(partner=partners.get_partner(session, row.partner_id), session_id=row.id, email=row.email)


def sign_out(session: Session, session_id: str) -> None:
    row = session.get(PortalSession, session_id)
    if row and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()


def request_sign_in_link(session: Session, settings: Settings, *, email: str) -> None:
    """E-mail a link to a known contact address; say nothing about unknown ones (no address probing)."""
    contact = session.exec(select(PartnerContact).where(func.lower(PartnerContact.email) == email.strip().lower())
                           .order_by(PartnerContact.id)).first()
    if contact is None:
        return
    _send_link(session, settings, partner_id=contact.partner_id, email=contact.email, reason="sign-in")


def _send_link(session: Session, settings: Settings, *, partner_id: str, email: str, reason: str,
               intro: str = "") -> None:
    url = issue_sign_in_link(session, settings, partner_id=partner_id, email=email)
    body = (f"{intro}Sign in to the {settings.publisher_name} partner portal with this link (it works once, for "
            f"{settings.portal_sign_in_minutes} minutes):\n\n{url}\n\nIf you did not ask for it, ignore this e-mail.\n")
    notifications.notify_address(session, partner_id=partner_id, to=[email],
                                 subject=f"Your {settings.publisher_name} licensing portal link", body=body,
                                 dedupe_key=f"portal.{reason}:{new_id('lnk')}")


# --- the republish form ----------------------------------------------------------------------------


@dataclass
class Applicant:
    outlet_name: str
    contact_name: str
    email: str


def recognised_partner(session: Session, email: str) -> Partner | None:
    """The verified partner whose contact has this address, if any."""
    return session.exec(
        select(Partner).join(PartnerContact, col(PartnerContact.partner_id) == col(Partner.id))
        .where(func.lower(col(PartnerContact.email)) == email.strip().lower(), col(Partner.verified_at).is_not(None))
        .order_by(col(Partner.created_at))).first()


def find_submission(session: Session, form_token: str) -> RepublishSubmission | None:
    return session.get(RepublishSubmission, form_token)


def submit_republish(session: Session, settings: Settings, *, form_token: str, applicant: Applicant,
                     terms: licensing.TermsInput, publication_url: str | None, notes: str | None) -> LicenceRequest:
    """Create (or recognise) the partner, its licence request and the sign-in e-mail, recording the
    form token first so that a second submit of the same form finds this request. The caller's
    transaction holds all of it: a failing step leaves nothing behind."""
    partner = recognised_partner(session, applicant.email)
    if partner is None:
        partner_id = new_id("ptn")
        partner = partners.create_partner(
            session, name=applicant.outlet_name, country=terms.territories[0] if terms.territories else "GB",
            billing_email=applicant.email, currency=settings.default_currency, partner_id=partner_id,
            contacts=[{"name": applicant.contact_name, "email": applicant.email}], actor=Actor("partner", partner_id))
    request = licensing.submit_request(session, partner=partner, terms=terms, publication_url=publication_url,
                                       notes=notes)
    session.add(RepublishSubmission(form_token=form_token, request_id=request.id, partner_id=partner.id))
    session.flush()
    _send_link(session, settings, partner_id=partner.id, email=applicant.email, reason=f"request:{request.id}",
               intro=f"Thank you: we have your request to republish (reference {request.id}). The licensing desk "
                     "will answer by e-mail; you can follow it in the portal.\n\n")
    return request
