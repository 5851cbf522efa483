"""A payment provider that hangs holds up only its own invoice, never content delivery (SQLite's
single write lock is never held while Stripe is waited on)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlmodel import select

from api.delivery.models import UsageEvent
from api.invoicing import periods, provider
from api.invoicing.models import Invoice, InvoiceStatus
from tests.builders import make_article, make_licence, make_partner
from tests.delivery.conftest import bearer, licensed, mint  # noqa: F401 - the delivery fixture
from tests.invoicing.conftest import add_usage

PERIOD = "2026-10"


def test_content_is_served_while_stripe_hangs_at_finalize(client, session, engine, stripe_settings, stripe_double,
                                                           licensed) -> None:  # noqa: F811
    billed = make_partner(session, currency="GBP")
    usage = make_licence(session, partner=billed, articles=[make_article(session)], amount=500, billing_mode="usage")
    add_usage(session, usage, make_article(session), at=datetime(2026, 10, 15, tzinfo=UTC))
    session.commit()
    reached, release = stripe_double.stall("POST", r"/v1/invoices/in_\w+/finalize")
    run = threading.Thread(target=periods.run_period, args=(engine, PERIOD),
                           kwargs={"backend": provider.backend(stripe_settings), "settings": stripe_settings})
    run.start()
    try:
        assert reached.wait(timeout=30), "the run never reached finalize"
        token = mint(client, licensed)["token"]  # a write of its own, too
        for article in licensed.articles:
            answer = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))
            assert answer.status_code == 200, answer.text
        assert run.is_alive()  # still waiting on Stripe: the deliveries did not wait for it
    finally:
        release.set()
        run.join(timeout=60)
    assert not run.is_alive()
    recorded = session.exec(select(UsageEvent).where(UsageEvent.licence_id == licensed.licence.id)).all()
    assert len(recorded) == len(licensed.articles)
    invoice = session.exec(select(Invoice).where(Invoice.period == PERIOD)).one()
    assert invoice.status == InvoiceStatus.open and invoice.issue_lease_token is None


def test_content_is_served_while_the_charge_of_an_approval_hangs_at_stripe(
        client, session, engine, stripe_settings, stripe_double, licensed) -> None:  # noqa: F811
    from api.outbox import service as outbox

    paid = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=9_000)
    session.commit()
    reached, release = stripe_double.stall("POST", r"/v1/invoices/in_\w+/finalize")
    worker = threading.Thread(target=outbox.drain, args=(engine,), kwargs={"topics": {"billing.charge_licence"}})
    worker.start()
    try:
        assert reached.wait(timeout=30), "the charge never reached finalize"
        token = mint(client, licensed)["token"]
        answer = client.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert worker.is_alive()
    finally:
        release.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == paid.id)).one()
    assert invoice.status == InvoiceStatus.open
