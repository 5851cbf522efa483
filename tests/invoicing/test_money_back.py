"""Refunds and disputes, followed from the charge to the invoice it paid (and so to the partner)."""

from __future__ import annotations

from sqlmodel import select

from api.audit.models import AuditEntry
from api.invoicing import periods, provider
from api.invoicing.models import Invoice, StripeEvent
from api.outbox import service as outbox
from tests.billing.events import event, fixture_object
from tests.builders import staff_headers
from tests.invoicing.test_webhooks import _charged_licence, _invoice_event, _post


def _paid_by_card(session, engine, stripe_client, stripe_double, *, amount: int = 30_000):
    """A Stripe invoice of ours, paid: its PaymentIntent's charge, linked to it by an InvoicePayment
    as today's API does (a charge no longer names its invoice)."""
    licence = _charged_licence(session, engine, amount=amount)
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    remote = stripe_double.update(invoice.provider_invoice_id, status="paid", amount_paid=amount, amount_remaining=0)
    _post(stripe_client, session, _invoice_event("invoice.paid", remote))
    outbox.drain(engine)
    intent = f"pi_for_{remote['id']}"
    charge = stripe_double._new("charge", "ch", amount=amount, amount_refunded=0, currency="gbp", payment_intent=intent,
                                customer=remote["customer"], refunded=False, disputed=False)
    stripe_double._new("invoice_payment", "inpay", invoice=remote["id"], amount_paid=amount, status="paid",
                       payment={"type": "payment_intent", "payment_intent": intent})
    return licence, invoice, charge


def test_refund_and_dispute_are_recorded_on_the_invoice_and_partner(
        client, session, engine, stripe_client, stripe_double, stripe_settings) -> None:
    licence, invoice, charge = _paid_by_card(session, engine, stripe_client, stripe_double)
    stripe_double.update(charge["id"], amount_refunded=5_000)
    # the events' copies are stale (or, for a dispute, name no customer): the handler re-reads
    refunded = event("charge.refunded", fixture_object("charge", id=charge["id"], amount_refunded=0))
    dispute = stripe_double._new("dispute", "dp", charge=charge["id"], payment_intent=charge["payment_intent"],
                                 amount=25_000, currency="gbp", status="needs_response", reason="fraudulent")
    opened = event("charge.dispute.created", fixture_object("dispute", id=dispute["id"]))
    for body in (refunded, opened):
        assert _post(stripe_client, session, body).status_code == 200
    outbox.drain(engine)
    session.expire_all()
    recorded = session.get(Invoice, invoice.id)
    assert (recorded.amount_refunded, recorded.amount_disputed, recorded.dispute_status) == (5_000, 25_000,
                                                                                              "needs_response")
    refund_audit = session.exec(select(AuditEntry).where(AuditEntry.action == "invoicing.charge_refunded")).one()
    dispute_audit = session.exec(select(AuditEntry).where(AuditEntry.action == "invoicing.dispute_created")).one()
    for entry in (refund_audit, dispute_audit):
        assert (entry.object_type, entry.object_id, entry.partner_id) == ("invoice", invoice.id, licence.partner_id)
        assert entry.after["charge"] == charge["id"] and entry.after["licence_id"] == licence.id
    assert dispute_audit.after["amount_disputed"] == 25_000 and dispute_audit.after["reason"] == "fraudulent"
    session.commit()
    shown = client.get(f"/v1/staff/invoices/{invoice.id}", headers=staff_headers(client, session, roles=["finance"]))
    assert shown.status_code == 200
    assert {k: shown.json()[k] for k in ("amount_paid", "amount_refunded", "amount_disputed", "dispute_status")} == {
        "amount_paid": 30_000, "amount_refunded": 5_000, "amount_disputed": 25_000, "dispute_status": "needs_response"}
    diffs = {(d.invoice_id, d.field, d.ours, d.theirs) for d in periods.reconcile(session, backend=provider.backend(stripe_settings))}
    assert diffs == {(invoice.id, "refunded", 5_000, None), (invoice.id, "disputed", 25_000, "needs_response")}
    # the dispute is lost: a later event, re-read, records its final status once
    stripe_double.update(dispute["id"], status="lost")
    _post(stripe_client, session, event("charge.dispute.closed", fixture_object("dispute", id=dispute["id"])))
    outbox.drain(engine)
    session.expire_all()
    assert session.get(Invoice, invoice.id).dispute_status == "lost"


def test_charge_of_no_invoice_of_ours_is_kept_on_record_and_unknown_events_acknowledged(
        session, engine, stripe_client, stripe_double) -> None:
    stray = stripe_double._new("charge", "ch", amount=900, amount_refunded=900, currency="gbp",
                               payment_intent="pi_elsewhere", customer="cus_elsewhere")
    unknown = event("radar.early_fraud_warning.created", fixture_object("radar.early_fraud_warning"))
    for body in (event("charge.refunded", fixture_object("charge", id=stray["id"])), unknown):
        assert _post(stripe_client, session, body).status_code == 200
    outbox.drain(engine)
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "invoicing.charge_refunded")).one()
    assert (entry.object_type, entry.object_id, entry.after["amount_refunded"]) == ("stripe_charge", stray["id"], 900)
    stored = {e.type: e for e in session.exec(select(StripeEvent)).all()}
    assert "paid no invoice of ours" in stored["charge.refunded"].outcome
    assert stored["radar.early_fraud_warning.created"].outcome.startswith("ignored")
    assert all(e.handled_at for e in stored.values())
