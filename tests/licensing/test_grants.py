"""What state a granted licence starts in, by how it is billed."""

from __future__ import annotations

from sqlmodel import select

from api.licensing.states import LicenceState
from api.outbox.models import OutboxMessage
from tests.builders import make_article, make_licence, make_partner


def test_free_licence_is_active_at_once(session) -> None:
    partner = make_partner(session)
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=0)
    assert licence.state == LicenceState.active


def test_paid_one_off_licence_awaits_payment_and_queues_the_charge(session) -> None:
    partner = make_partner(session)
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=12_000)
    assert licence.state == LicenceState.awaiting_payment
    topics = session.exec(select(OutboxMessage.topic).where(OutboxMessage.dedupe_key == f"charge-licence:{licence.id}")).all()
    assert topics == ["invoicing.charge_licence"]


def test_metered_licence_is_active_at_once_and_billed_in_arrears(session) -> None:
    partner = make_partner(session)
    make_article(session, section="news")
    licence = make_licence(session, partner=partner, scope="section_feed", section="news", amount=1_500,
                           billing_mode="usage")
    assert licence.billing_mode == "usage"
    assert licence.state == LicenceState.active, "a usage licence must be servable before its first invoice"
