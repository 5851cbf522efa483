"""invoicing.charge_licence: what an approval leads to, with the ledger and with Stripe."""

from __future__ import annotations

import re

from sqlmodel import select

from api.core.config import worker_settings
from api.audit.models import AuditEntry
from api.invoicing.models import BillingCustomer, BillingSubscription, Invoice, InvoiceLine, InvoiceStatus
from api.invoicing import service as invoicing
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.builders import make_article, make_licence, make_partner
from tests.invoicing.conftest import FINANCE


def _charge_message(session, licence_id: str) -> OutboxMessage:
    session.expire_all()
    return session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.charge_licence",
                                                    OutboxMessage.payload["licence_id"].as_string() == licence_id)
                        .order_by(OutboxMessage.created_at)).first()


def test_ledger_one_off_invoice_then_bank_transfer_activates(session, engine) -> None:
    partner = make_partner(session, currency="EUR")
    article = make_article(session, headline="Putin makes surprise visit to Syria")
    licence = make_licence(session, partner=partner, articles=[article], amount=12_500)
    session.commit()
    assert outbox.drain(engine) >= 1
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    described = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).one().description
    # The line names the use and the article as a partner knows them; the licence id only as its reference.
    assert described.startswith("Website use of “Putin makes surprise visit to Syria”, ") and article.id not in described
    assert described.endswith(f"(licence {licence.id})")
    assert (invoice.status, invoice.amount_due, invoice.currency, invoice.provider) == ("open", 12_500, "EUR", "ledger")
    assert invoice.due_at is not None and invoice.number
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    assert [(line.amount, line.licence_id) for line in lines] == [(12_500, licence.id)]
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    invoicing.mark_paid(session, invoice.id, reference="BACS 123", paid_at=None, actor=FINANCE)
    session.commit()
    session.refresh(licence)
    assert licence.state == LicenceState.active


def test_charging_twice_makes_one_invoice(session, engine) -> None:
    from api.invoicing import charging, provider

    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=900)
    session.commit()
    for _ in range(2):
        charging.charge_now(engine, licence_id=licence.id, backend=provider.backend(),
                            settings=worker_settings())
    assert len(session.exec(select(Invoice)).all()) == 1
    assert len(session.exec(select(InvoiceLine)).all()) == 1
    assert len(session.exec(select(BillingCustomer)).all()) == 1


def test_stripe_one_off_invoice_is_sent_with_payment_terms(session, engine, stripe_settings, stripe_double) -> None:
    partner = make_partner(session, currency="GBP")
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=25_000)
    session.commit()
    outbox.drain(engine)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    assert invoice.provider == "stripe" and invoice.status == InvoiceStatus.open
    created = stripe_double.calls("POST", "/v1/invoices")[0]
    assert created.idempotency_key == f"licence-invoice:{licence.id}:create"
    assert created.params["collection_method"] == "send_invoice"
    assert created.params["days_until_due"] == str(stripe_settings.invoice_days_until_due)
    assert created.params["currency"] == "gbp"
    assert created.params["metadata[syndicate_licence_id]"] == licence.id
    (lines,) = stripe_double.calls("POST", r"/v1/invoices/in_\w+/add_lines")
    assert lines.params["lines[0][amount]"] == "25000" and licence.id in lines.params["lines[0][description]"]
    remote = stripe_double.state.objects[invoice.provider_invoice_id]
    assert remote["amount_due"] == invoice.amount_due == 25_000  # both sides agree to the unit
    assert invoice.hosted_url == remote["hosted_invoice_url"]
    customer = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner.id)).one()
    assert customer.provider_customer_id == remote["customer"]
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment


def test_stripe_outage_leaves_approval_and_retries_later(session, engine, stripe_settings, stripe_double) -> None:
    stripe_double.stop()
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=4_000)
    session.commit()  # the approval commits whatever Stripe's state
    assert outbox.drain(engine, topics={"invoicing.charge_licence"}) == 0
    message = _charge_message(session, licence.id)
    assert message.status == "pending" and message.attempts == 1 and "reached" in message.last_error
    assert message.next_attempt_at > message.created_at  # backoff
    # only our own draft, written before Stripe was called, waiting to be sent by the retry
    assert [(i.status, i.provider_invoice_id, i.issue_lease_token) for i in session.exec(select(Invoice)).all()] == [
        (InvoiceStatus.draft, None, None)]
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment


def test_stripe_failure_halfway_is_retried_without_duplicates(session, engine, stripe_settings, stripe_double) -> None:
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=4_000)
    session.commit()
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=400, error_type="invalid_request_error")
    outbox.drain(engine)
    assert [(i.status, i.issue_lease_token) for i in session.exec(select(Invoice)).all()] == [
        (InvoiceStatus.draft, None)]  # not sent; its lease freed for the retry
    message = _charge_message(session, licence.id)
    message.next_attempt_at = message.created_at  # due again now
    session.add(message)
    session.commit()
    assert outbox.drain(engine, topics={"invoicing.charge_licence"}) == 1
    invoice = session.exec(select(Invoice)).one()
    assert invoice.status == InvoiceStatus.open
    assert len(stripe_double.of_kind("invoice")) == 1  # the retry found the first attempt's draft
    assert len(stripe_double.of_kind("invoiceitem")) == 1
    assert len(stripe_double.of_kind("customer")) == 1


def test_stripe_subscription_for_a_feed_licence(session, engine, stripe_settings, stripe_double) -> None:
    licence = make_licence(session, partner=make_partner(session, currency="USD"), scope="catalogue",
                           amount=99_00, billing_mode="subscription", days=365)
    session.commit()
    outbox.drain(engine)
    sub = session.exec(select(BillingSubscription).where(BillingSubscription.licence_id == licence.id)).one()
    sent = stripe_double.calls("POST", "/v1/subscriptions")[0]
    assert sent.idempotency_key == f"subscription:{licence.id}"
    assert sent.params["items[0][price]"] == sub.price_id
    assert int(sent.params["cancel_at"]) == int(licence.ends_at.timestamp())
    price = stripe_double.calls("POST", "/v1/prices")[0]
    assert price.params["lookup_key"] == "syndicate-feed-monthly-usd-9900"
    assert price.params["recurring[interval]"] == "month" and price.params["unit_amount"] == "9900"
    assert session.exec(select(Invoice)).all() == []  # Stripe raises the subscription's invoices


def test_stripe_checkout_when_chosen_uses_one_price_per_amount(session, engine, stripe_settings, stripe_double) -> None:
    stripe_settings.one_off_payment = "checkout"
    partner = make_partner(session)
    licences = [make_licence(session, partner=partner, articles=[make_article(session)], amount=7_500) for _ in range(2)]
    session.commit()
    outbox.drain(engine)
    invoices = {i.licence_id: i for i in session.exec(select(Invoice)).all()}
    sessions = {c.params["client_reference_id"]: c for c in stripe_double.calls("POST", "/v1/checkout/sessions")}
    prices = stripe_double.calls("POST", "/v1/prices")
    # one Price for both sessions, found by its lookup key, no product_data (a Product per session).
    # The worker may charge both licences at once: both then create the price under one idempotency
    # key, which Stripe answers with the same Price.
    assert len(stripe_double.of_kind("price")) == 1 and 1 <= len(prices) <= 2
    assert {p.idempotency_key for p in prices} == {"price:syndicate-licence-fee-gbp-7500"}
    assert prices[0].params["lookup_key"] == "syndicate-licence-fee-gbp-7500"
    assert prices[0].params["unit_amount"] == "7500" and "recurring[interval]" not in prices[0].params
    price_id = stripe_double.of_kind("price")[0]["id"]
    for licence in licences:
        invoice, sent = invoices[licence.id], sessions[licence.id]
        assert invoice.collection_method == "checkout" and invoice.status == InvoiceStatus.open
        assert invoice.hosted_url == stripe_double.state.objects[invoice.checkout_session_id]["url"]
        assert (invoice.total, invoice.amount_due) == (7_500, 7_500)
        assert sent.idempotency_key == f"checkout:{licence.id}"
        assert sent.params["line_items[0][price]"] == price_id and sent.params["line_items[0][quantity]"] == "1"
        assert not any("price_data" in key or "product_data" in key for key in sent.params)


def test_usage_licence_is_not_charged_at_approval_but_gets_its_customer(
        session, engine, stripe_settings, stripe_double) -> None:
    """Billed per period later; its customer is made now, so each period invoice is one provider call."""
    partner = make_partner(session)
    make_licence(session, partner=partner, articles=[make_article(session)], amount=500, billing_mode="usage")
    make_licence(session, partner=partner, articles=[make_article(session)], amount=700, billing_mode="usage")
    session.commit()
    outbox.drain(engine)
    assert session.exec(select(Invoice)).all() == []
    assert {(r.method, r.path) for r in stripe_double.state.requests} == {("GET", "/v1/customers"),
                                                                         ("POST", "/v1/customers")}
    assert len(stripe_double.of_kind("customer")) == 1  # two charges at once: the second's create is replayed
    customer = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner.id)).one()
    assert customer.provider == "stripe" and customer.provider_customer_id == stripe_double.of_kind("customer")[0]["id"]


def test_concurrent_approvals_create_one_customer(session, engine, stripe_settings, stripe_double) -> None:
    import threading

    from api.invoicing import charging, provider

    partner = make_partner(session)
    licences = [make_licence(session, partner=partner, articles=[make_article(session)], amount=100 * (i + 1))
                for i in range(2)]
    session.commit()
    barrier, errors = threading.Barrier(2), []

    def charge(licence_id: str) -> None:
        barrier.wait()
        try:
            charging.charge_now(engine, licence_id=licence_id, backend=provider.backend(), settings=stripe_settings)
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=charge, args=(lic.id,)) for lic in licences]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(session.exec(select(BillingCustomer)).all()) == 1
    assert len(stripe_double.of_kind("customer")) == 1
    assert len(session.exec(select(Invoice)).all()) == 2


def test_charge_automatically_paid_at_once_activates(session, engine, stripe_settings, stripe_double) -> None:
    stripe_settings.one_off_payment = "charge_automatically"
    original = stripe_double.route

    def paid_on_finalize(method, path, params):
        status, body = original(method, path, params)
        if path.endswith("/finalize"):
            body = stripe_double.update(body["id"], status="paid", amount_paid=body["amount_due"])
        return status, body

    stripe_double.route = paid_on_finalize
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=2_000)
    session.commit()
    outbox.drain(engine)
    created = stripe_double.calls("POST", "/v1/invoices")[0]
    assert created.params["collection_method"] == "charge_automatically" and "days_until_due" not in created.params
    session.expire_all()
    assert session.exec(select(Invoice)).one().status == InvoiceStatus.paid
    assert session.get(Licence, licence.id).state == LicenceState.active


def _due_now(session, message: OutboxMessage) -> None:
    message.next_attempt_at = message.created_at
    session.add(message)
    session.commit()


def test_one_off_invoice_whose_total_disagrees_is_held_unsent(session, engine, stripe_settings, stripe_double) -> None:
    from api.invoicing import charging

    original = stripe_double.route

    def with_surprise_fee(method, path, params):
        status, body = original(method, path, params)
        if method == "POST" and re.fullmatch(r"/v1/invoices/in_\w+/add_lines", path) and status == 200:
            body["total"] += 30
        return status, body

    stripe_double.route = with_surprise_fee
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=6_000)
    session.commit()
    outbox.drain(engine)
    assert stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize") == []  # not sent to the partner
    invoice = session.exec(select(Invoice)).one()
    (remote,) = stripe_double.of_kind("invoice")
    assert (invoice.status, invoice.provider_invoice_id, invoice.total) == (InvoiceStatus.draft, remote["id"], 6_000)
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    held = session.exec(select(AuditEntry).where(AuditEntry.action == "invoice.held")).one()
    assert "6030" in held.after["reason"] and held.object_id == invoice.id
    assert charging.sweep_uncharged(session) == [licence.id]  # a held draft is tried again
    session.commit()
    stripe_double.route = original
    stripe_double.update(remote["id"], total=6_000)  # staff removed the stray fee at Stripe
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.open
    assert len(stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize")) == 1
    assert len(stripe_double.of_kind("invoice")) == 1


def test_charge_survives_an_outage_longer_than_its_retries(session, engine, stripe_settings, stripe_double) -> None:
    from api.invoicing import charging, jobs

    stripe_double.stop()
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=4_000)
    session.commit()
    for _ in range(2):
        assert outbox.drain(engine, topics={"invoicing.charge_licence"}) == 0
        _due_now(session, _charge_message(session, licence.id))
    message = _charge_message(session, licence.id)
    message.attempts = 11  # skip ahead: the 12th attempt was its last (~68 minutes of backoff)
    _due_now(session, message)
    assert outbox.drain(engine, topics={"invoicing.charge_licence"}) == 0
    message = _charge_message(session, licence.id)
    assert (message.status, message.attempts) == ("pending", 12)
    assert message.max_attempts >= 12 + 24 * 3  # it keeps trying hourly for days
    message.attempts = message.max_attempts - 1  # ... and beyond even those days, it gives up
    _due_now(session, message)
    outbox.drain(engine, topics={"invoicing.charge_licence"})
    assert _charge_message(session, licence.id).status == "dead"
    # only our draft, written before the provider was called; nothing reached the partner
    assert [i.status for i in session.exec(select(Invoice)).all()] == [InvoiceStatus.draft]
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    stripe_double.start()  # the outage ends
    session.commit()
    jobs.sweep_uncharged(engine)
    assert charging.sweep_uncharged(session) == []  # its charge is queued already
    session.rollback()
    outbox.drain(engine)
    session.expire_all()
    invoice = session.exec(select(Invoice)).one()
    assert invoice.status == InvoiceStatus.open and invoice.licence_id == licence.id
    assert len(stripe_double.of_kind("invoice")) == 1
    jobs.sweep_uncharged(engine)  # invoiced: nothing more to queue
    charges = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.charge_licence")).all()
    assert sorted(m.status for m in charges) == ["dead", "done"]
