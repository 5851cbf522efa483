"""Amending a licence after approval: terms, quota grants, audit, announcements and the price difference."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.core.months import months_between
from api.licensing import amendments, grants
from api.licensing.errors import AmendmentRefused, LicenceNotAmendable
from api.licensing.quotes import price
from api.licensing.ratecard import current_card
from api.outbox.models import OutboxMessage
from tests.builders import TEST_ACTOR, make_article, make_licence, make_partner, staff_headers
from tests.licensing.helpers import partner_with_key


def _paid_licence(session, *, amount=24_000, **kwargs):
    partner = kwargs.pop("partner", None) or make_partner(session)
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=amount, **kwargs)
    grants.activate(session, licence, actor=TEST_ACTOR, reason="paid")
    return licence


def _topics(session) -> list[str]:
    return sorted(m.topic for m in session.exec(select(OutboxMessage)).all())


def test_extending_a_one_off_licence_is_priced_by_the_rate_card_and_invoiced(session):
    licence = _paid_licence(session)
    old_end = licence.ends_at
    card, version = current_card(session)
    new_end = licence.starts_at + timedelta(days=200)
    amendment = amendments.amend(session, licence.id, changes={"ends_at": new_end}, reason="Longer run", actor=TEST_ACTOR)
    assert months_between(licence.starts_at, new_end, 36) > months_between(licence.starts_at, old_end, 36)
    assert amendment.price_difference > 0  # a longer duration band
    assert licence.ends_at == new_end and licence.amount == 24_000 + amendment.price_difference
    assert amendment.before == {"ends_at": old_end.isoformat()} and amendment.after == {"ends_at": new_end.isoformat()}
    assert f"v{version}" in amendment.pricing_note
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "licence.amended")).one()
    assert entry.object_id == licence.id and entry.after["reason"] == "Longer run"
    assert entry.before == amendment.before
    assert _topics(session).count("invoicing.settle_amendment") == 1
    assert "licence.amended" in _topics(session) and "email.send" in _topics(session)


def test_the_difference_is_the_rate_card_price_of_the_change_only(session):
    licence = _paid_licence(session, territories=["GB"])
    card, version = current_card(session)
    amendment = amendments.amend(session, licence.id, changes={"territories": ["GB", "US"], "use": "print"},
                                 reason="Print edition in the US", actor=TEST_ACTOR)
    old = price(card, amendments._terms_of(licence, {"territories": ["GB"], "use": "web"}, card.max_months),
                currency="GBP", version=version).amount
    new = price(card, amendments._terms_of(licence, {}, card.max_months), currency="GBP", version=version).amount
    assert amendment.price_difference == new - old and licence.territories == ["GB", "US"]


def test_shortening_credits_and_a_staff_figure_wins_with_the_computed_one_kept(session):
    licence = _paid_licence(session, days=300)
    shorter = amendments.amend(session, licence.id, changes={"ends_at": utcnow() + timedelta(days=20)},
                               reason="Ends early", actor=TEST_ACTOR)
    assert shorter.price_difference < 0
    set_by_staff = amendments.amend(session, licence.id, changes={"territories": ["GB", "IE"]}, reason="Goodwill",
                                    price_difference=0, actor=TEST_ACTOR)
    assert set_by_staff.price_difference == 0 and set_by_staff.pricing_note.startswith("Set by staff")


def test_quota_and_conditions_carry_no_price(session):
    licence = _paid_licence(session, monthly_quota=10)
    amendment = amendments.amend(session, licence.id, changes={"monthly_quota": 50, "conditions": ["Credit the author"]},
                                 reason="Bigger newsroom", actor=TEST_ACTOR)
    assert amendment.price_difference == 0 and licence.monthly_quota == 50
    assert "invoicing.settle_amendment" not in _topics(session)


@pytest.mark.parametrize("changes, reason, message", [
    ({"territories": ["GB"]}, "no change", "Nothing changes"),
    ({"ends_at": "past"}, "too late", "in the past"),
    ({"territories": ["GB"], "monthly_quota": 5}, " ", "Say why"),
    ({"starts_at": "x"}, "start", "cannot be amended"),
])
def test_refusals_name_what_is_wrong(session, changes, reason, message):
    licence = _paid_licence(session)
    if changes.get("ends_at") == "past":
        changes = {"ends_at": utcnow() - timedelta(hours=1)}
    with pytest.raises(AmendmentRefused, match=message):
        amendments.amend(session, licence.id, changes=changes, reason=reason, actor=TEST_ACTOR)


def test_only_active_licences_are_amended_and_a_recurring_price_is_not_changed_in_place(session):
    unpaid = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=5000)
    with pytest.raises(LicenceNotAmendable):
        amendments.amend(session, unpaid.id, changes={"monthly_quota": 5}, reason="x", actor=TEST_ACTOR)
    make_article(session, section="world")
    feed = make_licence(session, partner=make_partner(session), scope="section_feed", section="world",
                        amount=9000, billing_mode="subscription")
    grants.activate(session, feed, actor=TEST_ACTOR)
    with pytest.raises(AmendmentRefused, match="monthly fee"):
        amendments.amend(session, feed.id, changes={"territories": ["GB", "US"]}, reason="x", actor=TEST_ACTOR)
    with pytest.raises(AmendmentRefused, match="subscription's end"):
        amendments.amend(session, feed.id, changes={"ends_at": feed.ends_at + timedelta(days=30)}, reason="x",
                         actor=TEST_ACTOR)


def test_a_quota_grant_is_recorded_bounded_by_the_licence_and_announced(session):
    licence = _paid_licence(session, monthly_quota=100, days=20)
    amendment = amendments.grant_quota(session, licence.id, extra=500, expires_at=utcnow() + timedelta(days=90),
                                       reason="Election burst", actor=TEST_ACTOR, fee=1500)
    [grant] = amendments.quota_grants(session, licence.id, live_at=utcnow())
    assert grant.extra == 500 and grant.expires_at == licence.ends_at  # never past the licence
    assert amendment.kind == "quota_grant" and amendment.price_difference == 1500
    assert {"invoicing.settle_amendment", "licence.amended", "email.send"} <= set(_topics(session))
    unlimited = _paid_licence(session)
    with pytest.raises(AmendmentRefused, match="no monthly quota"):
        amendments.grant_quota(session, unlimited.id, extra=5, expires_at=utcnow() + timedelta(days=1), reason="x",
                               actor=TEST_ACTOR)


def test_staff_routes_amend_grant_and_list_with_role_checks(client, session):
    partner, key = partner_with_key(session)
    licence = _paid_licence(session, partner=partner, monthly_quota=10)
    session.commit()
    licensing = staff_headers(client, session, roles=["licensing"])
    editor = staff_headers(client, session, roles=["editor"])
    url = f"/v1/staff/licences/{licence.id}"
    assert client.post(f"{url}/amendments", json={"monthly_quota": 20, "reason": "x"}, headers=editor).status_code == 403
    made = client.post(f"{url}/amendments", json={"monthly_quota": 20, "reason": "More"}, headers=licensing)
    assert made.status_code == 201, made.text
    assert made.json()["after"] == {"monthly_quota": 20}
    granted = client.post(f"{url}/quota-grants", headers=licensing, json={
        "extra": 500, "expires_at": (utcnow() + timedelta(days=5)).isoformat(), "reason": "Burst"})
    assert granted.status_code == 201 and granted.json()["kind"] == "quota_grant"
    bad = client.post(f"{url}/amendments", json={"territories": ["XX"], "reason": "x"}, headers=licensing)
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/unknown-territory"
    extra = client.post(f"{url}/amendments", json={"state": "active", "reason": "x"}, headers=licensing)
    assert extra.status_code == 422
    history = client.get(f"{url}/amendments", headers=licensing).json()["items"]
    assert [a["kind"] for a in history] == ["terms", "quota_grant"]
    assert client.get(f"/v1/licences/{licence.id}/amendments", headers=key).json()["items"] == history
    _other, other_key = partner_with_key(session)
    session.commit()
    assert client.get(f"/v1/licences/{licence.id}/amendments", headers=other_key).status_code == 404
