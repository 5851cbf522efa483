"""Card payment through Stripe Checkout: the session, the invoice Checkout raises, and the events
Stripe sends about both (signed payloads, in either order)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from api.invoicing import periods, provider
from api.invoicing.models import Invoice, InvoiceStatus, StripeEvent
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from tests.billing.events import event, fixture_object
from tests.invoicing.test_webhooks import _charged_licence, _invoice_event, _post


def _checkout_licence(session, engine, stripe_settings, *, amount: int = 4_200):
    stripe_settings.one_off_payment = "checkout"
    licence = _charged_licence(session, engine, amount=amount)
    return licence, session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()


def _pay_by_card(stripe_double, session_id: str) -> dict:
    """What Stripe does when the card payment of a session succeeds: the session completes, paid,
    and the invoice it raises (invoice_creation) carries the metadata we gave invoice_data."""
    checkout = stripe_double.state.objects[session_id]
    amount = checkout["amount_total"]
    remote = stripe_double._new(
        "invoice", "in", status="paid", customer=checkout["customer"], currency=checkout["currency"], total=amount,
        subtotal=amount, amount_due=amount, amount_paid=amount, amount_remaining=0, parent=None,
        metadata=checkout["invoice_creation"]["invoice_data"]["metadata"])
    stripe_double.update(session_id, status="complete", payment_status="paid", invoice=remote["id"])
    return remote


def _session_event(type_: str, session_id: str) -> dict:
    return event(type_, fixture_object("checkout.session", id=session_id))


@pytest.mark.parametrize("invoice_events_first", [True, False])
def test_card_payment_activates_and_checkouts_invoice_is_matched_to_ours(
        session, engine, stripe_client, stripe_double, stripe_settings, invoice_events_first) -> None:
    licence, invoice = _checkout_licence(session, engine, stripe_settings)
    remote = _pay_by_card(stripe_double, invoice.checkout_session_id)
    invoice_events = [_invoice_event(t, remote) for t in ("invoice.finalized", "invoice.paid", "invoice.payment_succeeded")]
    completed = _session_event("checkout.session.completed", invoice.checkout_session_id)
    for body in (invoice_events + [completed]) if invoice_events_first else ([completed] + invoice_events):
        assert _post(stripe_client, session, body).status_code == 200
    outbox.drain(engine)
    session.expire_all()
    events = session.exec(select(StripeEvent)).all()
    assert len(events) == 4
    assert all(e.handled_at and not e.outcome.startswith("ignored") for e in events), [e.outcome for e in events]
    paid = session.get(Invoice, invoice.id)
    assert (paid.status, paid.provider_invoice_id, paid.amount_paid, paid.total) == (
        InvoiceStatus.paid, remote["id"], 4_200, 4_200)
    assert session.get(Licence, licence.id).state == LicenceState.active
    assert periods.reconcile(session, backend=provider.backend(stripe_settings)) == []


def test_delayed_payment_waits_then_async_success_activates(
        session, engine, stripe_client, stripe_double, stripe_settings) -> None:
    licence, invoice = _checkout_licence(session, engine, stripe_settings)
    stripe_double.update(invoice.checkout_session_id, status="complete", payment_status="unpaid")
    _post(stripe_client, session, _session_event("checkout.session.completed", invoice.checkout_session_id))
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    assert "waiting" in session.exec(select(StripeEvent)).one().outcome
    _pay_by_card(stripe_double, invoice.checkout_session_id)  # the bank debit settles days later
    _post(stripe_client, session, _session_event("checkout.session.async_payment_succeeded", invoice.checkout_session_id))
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.paid


@pytest.mark.parametrize("type_, session_status, action", [
    ("checkout.session.expired", "expired", "invoicing.checkout_expired"),
    ("checkout.session.async_payment_failed", "complete", "invoicing.checkout_failed"),
])
def test_unpaid_checkout_is_recorded_and_a_new_session_offered(
        session, engine, stripe_client, stripe_double, stripe_settings, type_, session_status, action) -> None:
    licence, invoice = _checkout_licence(session, engine, stripe_settings)
    old, old_url = invoice.checkout_session_id, invoice.hosted_url
    stripe_double.update(old, status=session_status, payment_status="unpaid")
    for _ in range(2):  # two events about the same session (Stripe's retries carry new ids too)
        assert _post(stripe_client, session, _session_event(type_, old)).status_code == 200
    outbox.drain(engine)
    session.expire_all()
    current = session.get(Invoice, invoice.id)
    sent = stripe_double.calls("POST", "/v1/checkout/sessions")
    # The two events may be handled at once (the worker delivers messages concurrently): both then ask
    # for the replacement under the same idempotency key, so Stripe makes one session, not two.
    assert [c.idempotency_key for c in sent][1:] in ([f"checkout:{licence.id}:after:{old}"],
                                                      [f"checkout:{licence.id}:after:{old}"] * 2)
    assert len(stripe_double.of_kind("checkout.session")) == 2
    assert sent[1].params["line_items[0][price]"] == sent[0].params["line_items[0][price]"]
    assert current.checkout_session_id != old and current.status == InvoiceStatus.open
    assert current.hosted_url == stripe_double.state.objects[current.checkout_session_id]["url"] != old_url
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    record = session.exec(select(AuditEntry).where(AuditEntry.action == action)).one()
    assert record.object_id == invoice.id and record.partner_id == licence.partner_id
    assert record.after["checkout_session"] == current.checkout_session_id
    # the partner pays through the new link
    _pay_by_card(stripe_double, current.checkout_session_id)
    _post(stripe_client, session, _session_event("checkout.session.completed", current.checkout_session_id))
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
