"""A payment provider that hangs holds up only its own invoice, event or credit, never content
delivery (SQLite's single write lock is never held while Stripe is waited on)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.delivery.models import UsageEvent
from api.invoicing import periods, provider
from api.invoicing.models import Invoice, InvoiceStatus, StripeEvent
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox.models import OutboxMessage
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
    worker = threading.Thread(target=outbox.drain, args=(engine,), kwargs={"topics": {"invoicing.charge_licence"}})
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


def _serves_content_while(client, licensed, worker: threading.Thread) -> None:  # noqa: F811
    """Content requests (and the token mint before them) answer while `worker` waits on Stripe."""
    token = mint(client, licensed)["token"]
    for article in licensed.articles:
        answer = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))
        assert answer.status_code == 200, answer.text
    assert worker.is_alive()  # still waiting on the provider: the deliveries did not wait for it


def _drain_in_background(engine, topic: str) -> threading.Thread:
    from api.outbox import service as outbox

    worker = threading.Thread(target=outbox.drain, args=(engine,), kwargs={"topics": {topic}})
    worker.start()
    return worker


def _paid_invoice_event(session, engine, stripe_double):
    from tests.invoicing.test_webhooks import _charged_licence, _invoice_event

    licence = _charged_licence(session, engine)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    remote = stripe_double.update(invoice.provider_invoice_id, status="paid", amount_paid=licence.amount,
                                  amount_remaining=0)
    return licence, _invoice_event("invoice.paid", remote)


def test_content_is_served_while_stripe_hangs_on_the_read_of_an_events_invoice(
        client, session, engine, stripe_client, stripe_double, licensed) -> None:  # noqa: F811
    from tests.invoicing.test_webhooks import _post

    licence, body = _paid_invoice_event(session, engine, stripe_double)
    assert _post(stripe_client, session, body).status_code == 200
    reached, release = stripe_double.stall("GET", r"/v1/invoices/in_\w+")
    worker = _drain_in_background(engine, "invoicing.stripe_event")
    try:
        assert reached.wait(timeout=30), "the handler never read the invoice back"
        _serves_content_while(client, licensed, worker)
    finally:
        release.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    session.commit()  # end the read the content requests began (it sees the state of its start)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
    assert session.get(StripeEvent, body["id"]).handled_at is not None


def test_an_event_redelivered_while_its_first_handling_waits_on_stripe_acts_once(
        session, engine, stripe_client, stripe_double) -> None:
    from api.outbox import service as outbox
    from tests.invoicing.test_webhooks import _post

    licence, body = _paid_invoice_event(session, engine, stripe_double)
    reads_before = len(stripe_double.calls("GET", r"/v1/invoices/in_\w+"))
    reached, release = stripe_double.stall("GET", r"/v1/invoices/in_\w+")
    both_reading, release_both = stripe_double.stall("GET", r"/v1/invoices/in_\w+", waiting=2)
    assert _post(stripe_client, session, body).json()["duplicate"] is False
    first = _drain_in_background(engine, "invoicing.stripe_event")
    try:
        assert reached.wait(timeout=30), "the handler never read the invoice back"
        assert _post(stripe_client, session, body).json()["duplicate"] is True  # Stripe's retry
        # and a second message for the same event, as after the first one's lease ran out
        outbox.enqueue(session, "invoicing.stripe_event", {"event_id": body["id"]}, dedupe_key="stripe-event:again")
        session.commit()
        second = _drain_in_background(engine, "invoicing.stripe_event")
        assert both_reading.wait(timeout=30), "the second delivery never read the invoice"
    finally:
        release.set()
        release_both.set()
        first.join(timeout=60)
    second.join(timeout=60)
    assert not first.is_alive() and not second.is_alive()
    assert len(stripe_double.calls("GET", r"/v1/invoices/in_\w+")) == reads_before + 2  # both read; one applied
    session.commit()
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
    assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "stripe.invoice.paid")).all()) == 1
    assert len(session.exec(select(AuditEntry).where(AuditEntry.object_id == licence.id,
                                                     AuditEntry.action == "licence.active")).all()) == 1
    assert all(m.status == "done" for m in session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "invoicing.stripe_event")).all())


def test_content_is_served_while_stripe_hangs_on_an_amendment_credit(
        client, session, engine, stripe_settings, stripe_double, licensed) -> None:  # noqa: F811
    from api.licensing import amendments, grants
    from tests.builders import TEST_ACTOR

    paid = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=24_000,
                        days=300)
    grants.activate(session, paid, actor=TEST_ACTOR)
    amendment = amendments.amend(session, paid.id, changes={"ends_at": utcnow() + timedelta(days=20)},
                                 reason="Shorter", actor=TEST_ACTOR)
    session.commit()
    reached, release = stripe_double.stall("POST", r"/v1/customers/cus_\w+/balance_transactions")
    worker = _drain_in_background(engine, "invoicing.settle_amendment")
    try:
        assert reached.wait(timeout=30), "the settlement never reached the credit"
        _serves_content_while(client, licensed, worker)
    finally:
        release.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    session.commit()
    session.refresh(amendment)
    assert amendment.settled_ref.startswith("cbtxn_")
