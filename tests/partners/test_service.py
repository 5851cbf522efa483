from __future__ import annotations

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from api.core.errors import Invalid
from api.outbox.models import OutboxMessage
from api.partners import keys, service
from api.partners.models import PartnerStatus
from tests.builders import TEST_ACTOR, make_partner
from api.partners.errors import TooManyApiKeys, UnknownCountry, UnknownCurrency


def test_codes_are_normalised_or_refused() -> None:
    assert service.normalise_country(" ae ") == "AE"
    assert service.normalise_currency("usd") == "USD"
    with pytest.raises(UnknownCountry, match="ISO 3166-1"):
        service.normalise_country("UK")  # the United Kingdom is GB
    with pytest.raises(UnknownCurrency):
        service.normalise_currency("EURO")


def test_update_cannot_touch_status(session) -> None:
    partner = make_partner(session, verified=False)
    with pytest.raises(Invalid, match="status"):
        service.update_partner(session, partner.id, changes={"status": "active"}, actor=TEST_ACTOR)
    assert partner.status == PartnerStatus.pending


def test_self_registration_tells_the_desk_only(session) -> None:
    partner, key, raw = service.register_partner(session, name="New Outlet", country="gb",
                                                 billing_email="a@new.example", currency="gbp", verified=True)
    assert partner.status == PartnerStatus.pending  # a self-registration cannot verify itself
    assert keys.authenticate_key(session, raw)[1].id == key.id
    messages = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all()
    assert [(m.payload["audience"], m.payload["subject"]) for m in messages] == [
        ("staff", "New partner registration: New Outlet")]
    entries = session.exec(select(AuditEntry).where(AuditEntry.partner_id == partner.id)).all()
    assert {(e.action, e.actor_type, e.actor_id) for e in entries} == {
        ("partner.created", "partner", partner.id), ("api_key.created", "partner", partner.id)}


def test_partner_listing_pages_by_creation_time(session) -> None:
    made = [make_partner(session, verified=i % 2 == 0) for i in range(5)]
    page, cursor = service.list_partners(session, limit=2)
    seen = [p.id for p in page]
    while cursor:
        page, cursor = service.list_partners(session, limit=2, cursor=cursor)
        seen += [p.id for p in page]
    assert seen == [p.id for p in reversed(made)]
    pending, _ = service.list_partners(session, status=PartnerStatus.pending)
    assert {p.id for p in pending} == {made[1].id, made[3].id}


def test_key_limit(session, monkeypatch) -> None:
    partner = make_partner(session)
    monkeypatch.setattr(keys, "MAX_ACTIVE_KEYS", 2)
    keys.create_key(session, partner_id=partner.id, name="one", actor=TEST_ACTOR)
    keys.create_key(session, partner_id=partner.id, name="two", actor=TEST_ACTOR)
    with pytest.raises(TooManyApiKeys):
        keys.create_key(session, partner_id=partner.id, name="three", actor=TEST_ACTOR)
