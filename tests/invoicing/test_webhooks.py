"""POST /v1/invoicing/stripe/webhook with payloads built from Stripe's fixtures and signed as Stripe signs."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlmodel import select

from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.invoicing import service as invoicing
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus, StripeEvent
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.billing.events import event, fixture_object, signed
from tests.builders import make_article, make_licence, make_partner

URL = "/v1/invoicing/stripe/webhook"


def _post(client, session, body, **sign_kwargs):
    session.commit()  # release SQLite's write lock held by the test's reads
    payload, headers = signed(body, **sign_kwargs)
    return client.post(URL, content=payload, headers=headers)


def _charged_licence(session, engine, **kwargs):
    articles = kwargs.pop("articles") if "articles" in kwargs else [make_article(session)]
    licence = make_licence(session, partner=make_partner(session), articles=articles,
                           amount=kwargs.pop("amount", 30_000), **kwargs)
    session.commit()
    outbox.drain(engine)
    session.expire_all()
    return licence


def _invoice_event(type_: str, remote: dict, **kwargs) -> dict:
    # Stripe's payload is a snapshot; the handler re-reads the invoice, so a stale copy is harmless
    return event(type_, fixture_object("invoice", id=remote["id"], status="open", customer=remote["customer"]), **kwargs)


def test_invoice_paid_activates_the_licence(session, engine, stripe_client, stripe_double) -> None:
    licence = _charged_licence(session, engine)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    remote = stripe_double.update(invoice.provider_invoice_id, status="paid", amount_paid=30_000, amount_remaining=0)
    response = _post(stripe_client, session, _invoice_event("invoice.paid", remote))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
    paid = session.get(Invoice, invoice.id)
    assert (paid.status, paid.amount_paid, paid.amount_due) == ("paid", 30_000, remote["amount_due"])
    stored = session.exec(select(StripeEvent)).one()
    assert stored.handled_at is not None and "activated 1" in stored.outcome


def test_bad_signature_and_stale_timestamp_are_refused(session, engine, stripe_client) -> None:
    body = event("invoice.paid", fixture_object("invoice"))
    bad = _post(stripe_client, session, body, secret="whsec_someone_else")
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"] == "/problems/bad-webhook-signature"
    stale = _post(stripe_client, session, body, timestamp=int(time.time()) - 301)
    assert stale.status_code == 400 and "tolerance" in stale.json()["detail"]
    unsigned = stripe_client.post(URL, content=b"{}", headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400
    assert session.exec(select(StripeEvent)).all() == []


def test_duplicate_delivery_is_acknowledged_and_ignored(session, engine, stripe_client, stripe_double) -> None:
    licence = _charged_licence(session, engine)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    remote = stripe_double.update(invoice.provider_invoice_id, status="paid", amount_paid=30_000)
    body = _invoice_event("invoice.paid", remote)
    assert _post(stripe_client, session, body).json()["duplicate"] is False
    outbox.drain(engine)
    again = _post(stripe_client, session, body)
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    outbox.drain(engine)
    assert len(session.exec(select(StripeEvent)).all()) == 1
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.stripe_event")).all()) == 1
    audits = session.exec(select(AuditEntry).where(AuditEntry.action == "stripe.invoice.paid")).all()
    assert len(audits) == 1
    activations = session.exec(select(AuditEntry).where(AuditEntry.object_id == licence.id,
                                                        AuditEntry.action == "licence.active")).all()
    assert len(activations) == 1


def test_out_of_order_failure_after_payment_does_not_undo_it(session, engine, stripe_client, stripe_double) -> None:
    licence = _charged_licence(session, engine)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    remote = stripe_double.update(invoice.provider_invoice_id, status="paid", amount_paid=30_000)
    older = _invoice_event("invoice.payment_failed", remote, created=int(time.time()) - 60)
    newer = _invoice_event("invoice.paid", remote)
    assert _post(stripe_client, session, newer).status_code == 200
    assert _post(stripe_client, session, older).status_code == 200  # the older event arrives last
    outbox.drain(engine)
    session.expire_all()
    current = session.get(Invoice, invoice.id)
    assert current.status == InvoiceStatus.paid and current.payment_failed_at is None
    assert session.get(Licence, licence.id).state == LicenceState.active
    assert all(e.handled_at for e in session.exec(select(StripeEvent)).all())


def _subscription_invoice(stripe_double, sub: BillingSubscription, *, status: str, amount: int) -> dict:
    customer = stripe_double.calls("POST", "/v1/subscriptions")[0].params["customer"]
    return stripe_double._new("invoice", "in", status=status, customer=customer, currency="usd", amount_due=amount,
                              amount_paid=amount if status == "paid" else 0, metadata={},
                              due_date=int(time.time()) + 30 * 86400,
                              parent={"type": "subscription_details",
                                      "subscription_details": {"subscription": sub.provider_subscription_id}})


def test_feed_subscription_paid_failed_suspended_after_grace_then_cancelled(
        session, engine, stripe_client, stripe_double, stripe_settings) -> None:
    licence = _charged_licence(session, engine, scope="catalogue", billing_mode="subscription", amount=9_900,
                               articles=None, days=365)
    sub = session.exec(select(BillingSubscription).where(BillingSubscription.licence_id == licence.id)).one()
    first = _subscription_invoice(stripe_double, sub, status="paid", amount=9_900)
    _post(stripe_client, session, _invoice_event("invoice.paid", first))
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
    recorded = session.exec(select(Invoice).where(Invoice.provider_invoice_id == first["id"])).one()
    assert recorded.kind == InvoiceKind.subscription and recorded.amount_paid == 9_900

    renewal = _subscription_invoice(stripe_double, sub, status="open", amount=9_900)
    _post(stripe_client, session, _invoice_event("invoice.payment_failed", renewal))
    outbox.drain(engine)
    session.expire_all()
    failed = session.exec(select(Invoice).where(Invoice.provider_invoice_id == renewal["id"])).one()
    assert failed.payment_failed_at is not None
    grace = stripe_settings.payment_grace_days
    assert invoicing.suspend_overdue(session, grace_days=grace, now=utcnow() + timedelta(days=grace - 1)) == []
    suspended = invoicing.suspend_overdue(session, grace_days=grace, now=utcnow() + timedelta(days=grace + 1))
    session.commit()
    assert [lic.id for lic in suspended] == [licence.id]
    assert session.get(Licence, licence.id).state == LicenceState.suspended

    stripe_double.update(renewal["id"], status="paid", amount_paid=9_900)
    _post(stripe_client, session, _invoice_event("invoice.paid", renewal))
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active  # paid: suspended -> active

    deleted = event("customer.subscription.deleted",
                    fixture_object("subscription", id=sub.provider_subscription_id, status="canceled"))
    _post(stripe_client, session, deleted)
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.revoked  # cancelled before its end
    assert session.get(BillingSubscription, sub.id).status == "canceled"
    # The one revoke: audited with the reason, and the partner told, as when staff revoke.
    revoked = session.exec(select(AuditEntry).where(AuditEntry.object_id == licence.id,
                                                    AuditEntry.action == "licence.revoked")).one()
    assert revoked.after["reason"].startswith("feed subscription")
    told = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all()
    assert [m.payload["subject"] for m in told].count("A licence was revoked") == 1


def test_ledger_deployment_takes_no_stripe_webhooks(client, session) -> None:
    response = _post(client, session, event("invoice.paid", fixture_object("invoice")))
    assert response.status_code == 503 and response.json()["type"] == "/problems/billing-not-configured"


def test_event_ahead_of_our_own_commit_is_retried(session, engine, stripe_client, stripe_double) -> None:
    # Stripe announced an invoice of ours before the charge job committed its row
    remote = stripe_double._new("invoice", "in", status="paid", customer="cus_x", currency="gbp", amount_due=500,
                                amount_paid=500, parent=None, metadata={"syndicate_licence_id": "lic_pending"})
    body = _invoice_event("invoice.paid", remote)
    assert _post(stripe_client, session, body).status_code == 200
    outbox.drain(engine)
    stored = session.exec(select(StripeEvent)).one()
    assert stored.handled_at is None
    message = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.stripe_event")).one()
    assert message.status == "pending" and "not recorded yet" in message.last_error
    stranger = stripe_double._new("invoice", "in", status="paid", customer="cus_y", currency="gbp", parent=None,
                                  metadata={})
    session.commit()
    _post(stripe_client, session, _invoice_event("invoice.paid", stranger))
    outbox.drain(engine)
    session.expire_all()
    foreign = session.get(StripeEvent, session.exec(select(StripeEvent.id).where(StripeEvent.id != stored.id)).one())
    assert foreign.outcome.startswith("ignored") and foreign.handled_at is not None


def test_subscription_deleted_ahead_of_our_own_commit_is_retried(
        session, engine, stripe_client, stripe_double, stripe_settings) -> None:
    licence = _charged_licence(session, engine, scope="catalogue", billing_mode="subscription", amount=9_900,
                               articles=None, days=365)
    sub = session.exec(select(BillingSubscription).where(BillingSubscription.licence_id == licence.id)).one()
    _post(stripe_client, session, _invoice_event("invoice.paid", _subscription_invoice(
        stripe_double, sub, status="paid", amount=9_900)))
    outbox.drain(engine)
    # Stripe's cancellation overtakes the commit of our subscription row: take the row away as if
    # its transaction were still open
    row = {k: getattr(sub, k) for k in BillingSubscription.model_fields}
    session.delete(sub)
    session.commit()
    remote = stripe_double.state.objects[sub.provider_subscription_id]
    deleted = event("customer.subscription.deleted", fixture_object(
        "subscription", id=sub.provider_subscription_id, status="canceled", metadata=remote["metadata"]))
    assert _post(stripe_client, session, deleted).status_code == 200
    outbox.drain(engine)
    stored = session.get(StripeEvent, deleted["id"])
    assert stored.handled_at is None  # not "ignored for good"
    message = session.exec(select(OutboxMessage).where(OutboxMessage.payload["event_id"].as_string() == deleted["id"])).one()
    assert message.status == "pending" and "not recorded yet" in message.last_error
    session.add(BillingSubscription(**row))  # the charge's transaction commits
    message.next_attempt_at = message.created_at
    session.add(message)
    session.commit()
    outbox.drain(engine)
    session.expire_all()
    assert session.get(StripeEvent, deleted["id"]).handled_at is not None
    assert session.get(Licence, licence.id).state == LicenceState.revoked
    stranger = event("customer.subscription.deleted", fixture_object("subscription", id="sub_elsewhere", metadata={}))
    _post(stripe_client, session, stranger)
    outbox.drain(engine)
    session.expire_all()
    assert session.get(StripeEvent, stranger["id"]).outcome.startswith("ignored")


def test_redelivery_of_an_event_whose_handling_gave_up_handles_it(
        session, engine, stripe_client, stripe_double) -> None:
    licence = _charged_licence(session, engine)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    remote = stripe_double.update(invoice.provider_invoice_id, status="paid", amount_paid=30_000, amount_remaining=0)
    body = _invoice_event("invoice.paid", remote)
    stripe_double.fail("GET", r"/v1/invoices/in_\w+", status=500, times=10_000)  # we cannot read it back for long
    assert _post(stripe_client, session, body).json()["duplicate"] is False
    outbox.drain(engine)
    message = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.stripe_event")).one()
    assert message.max_attempts >= 12 + 24 * 3  # outlives Stripe's three days of redeliveries
    message.attempts, message.next_attempt_at = message.max_attempts - 1, message.created_at
    session.add(message)
    session.commit()
    outbox.drain(engine)
    session.expire_all()
    assert session.get(OutboxMessage, message.id).status == "dead"
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    stripe_double.state.faults.clear()  # the outage is over; Stripe retries its delivery
    again = _post(stripe_client, session, body)
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    outbox.drain(engine)
    session.expire_all()
    assert session.get(StripeEvent, body["id"]).handled_at is not None
    assert session.get(Licence, licence.id).state == LicenceState.active
    _post(stripe_client, session, body)  # once handled, a redelivery queues nothing
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.stripe_event")).all()) == 2
