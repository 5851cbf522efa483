"""Unpaid licences cancelled (partner, staff, overdue job): the invoice is voided, the partner told."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.delivery.models import WebhookDelivery, WebhookEndpoint
from api.invoicing import cancellations
from api.invoicing.models import Invoice, InvoiceStatus
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.builders import make_article, make_licence, make_partner, staff_headers
from tests.licensing.helpers import partner_with_key


def _charged(session, engine, partner, amount: int = 7_500) -> tuple[Licence, Invoice]:
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=amount)
    session.commit()
    outbox.drain(engine)
    session.commit()
    session.expire_all()
    invoice = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    session.commit()  # end the read, so the next one sees what the requests and the outbox commit
    return licence, invoice


def test_partner_withdraws_an_unpaid_licence_and_its_ledger_invoice_is_void(client, session, engine) -> None:
    partner, headers = partner_with_key(session)
    session.add(WebhookEndpoint(partner_id=partner.id, url="https://partner.example/hooks", secret_encrypted="x"))
    licence, invoice = _charged(session, engine, partner)
    assert invoice.status == InvoiceStatus.open

    answer = client.post(f"/v1/licences/{licence.id}/cancel", headers=headers, json={})
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert client.post(f"/v1/licences/{licence.id}/cancel", headers=headers).json()["status"] == "cancelled"
    outbox.drain(engine)
    session.commit()
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.void
    actions = {e.action for e in session.exec(select(AuditEntry)).all()}
    assert {"licence.cancelled", "invoice.voided"} <= actions
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "licence.cancelled")).one()
    assert (entry.actor_type, entry.after["reason"]) == ("partner", "withdrawn by the partner")
    emails = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all()
    assert sum(1 for m in emails if m.payload["subject"] == "A licence was cancelled") == 1
    (delivery,) = session.exec(select(WebhookDelivery)).all()  # one, though the partner asked twice
    assert delivery.event_type == "licence.cancelled" and delivery.payload["data"]["licence_id"] == licence.id
    from api.delivery.schemas import LicenceCancelledEvent

    assert LicenceCancelledEvent.model_validate(delivery.payload).data.version == 1  # as the contract documents


def test_only_the_owner_and_only_while_awaiting_payment(client, session, engine) -> None:
    partner, headers = partner_with_key(session)
    other, other_headers = partner_with_key(session)
    licence, _ = _charged(session, engine, partner)
    free = make_licence(session, partner=partner, articles=[make_article(session)])
    session.commit()
    stranger = client.post(f"/v1/licences/{licence.id}/cancel", headers=other_headers)
    assert stranger.status_code == 404 and stranger.json()["type"] == "/problems/licence-not-found"
    active = client.post(f"/v1/licences/{free.id}/cancel", headers=headers)
    assert active.status_code == 409 and active.json()["type"] == "/problems/invalid-transition"
    session.commit()
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.awaiting_payment
    assert session.get(Licence, free.id).state == LicenceState.active


def test_staff_cancel_voids_the_stripe_invoice(session, engine, stripe_settings, stripe_double, stripe_client) -> None:
    partner = make_partner(session)
    licence, invoice = _charged(session, engine, partner)
    assert invoice.provider == "stripe" and invoice.status == InvoiceStatus.open
    staff = staff_headers(stripe_client, session, roles=["licensing"])
    no_reason = stripe_client.post(f"/v1/staff/licences/{licence.id}/cancel", headers=staff, json={})
    assert no_reason.status_code == 422 and no_reason.json()["type"] == "/problems/invalid-decision"
    answer = stripe_client.post(f"/v1/staff/licences/{licence.id}/cancel", headers=staff,
                                json={"reason": "The partner asked us by phone."})
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert stripe_double.state.objects[invoice.provider_invoice_id]["status"] == "open"  # not inside the request
    outbox.drain(engine)
    session.commit()
    session.expire_all()
    (void,) = stripe_double.calls("POST", rf"/v1/invoices/{invoice.provider_invoice_id}/void")
    assert void.idempotency_key == f"void:{invoice.id}:void"
    assert stripe_double.state.objects[invoice.provider_invoice_id]["status"] == "void"
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.void


def test_stripe_outage_keeps_the_void_for_later(session, engine, stripe_settings, stripe_double) -> None:
    from api.licensing import service as licensing
    from api.audit.service import Actor

    licence, invoice = _charged(session, engine, make_partner(session))
    licensing.cancel_licence(session, licence.id, actor=Actor("staff", "stf_x"), reason="Asked to.")
    session.commit()
    stripe_double.stop()
    outbox.drain(engine)
    session.commit()
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.open  # not marked void while Stripe still has it
    message = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.void_licence_invoices")).one()
    assert message.status == "pending" and message.attempts == 1
    stripe_double.start()
    message.next_attempt_at = utcnow()
    session.add(message)
    session.commit()
    outbox.drain(engine)
    session.commit()
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.void
    assert stripe_double.state.objects[invoice.provider_invoice_id]["status"] == "void"


def test_overdue_job_cancels_licences_unpaid_past_due_plus_grace(session, engine, settings) -> None:
    late, late_invoice = _charged(session, engine, make_partner(session))
    recent, recent_invoice = _charged(session, engine, make_partner(session))
    now = utcnow()
    late_invoice.due_at = now - timedelta(days=settings.payment_grace_days + 1)
    recent_invoice.due_at = now - timedelta(days=settings.payment_grace_days - 1)
    session.add_all([late_invoice, recent_invoice])
    session.commit()
    cancelled = cancellations.cancel_overdue(session, grace_days=settings.payment_grace_days, now=now)
    session.commit()
    assert [licence.id for licence in cancelled] == [late.id]
    outbox.drain(engine)
    session.commit()
    session.expire_all()
    assert session.get(Licence, late.id).state == LicenceState.cancelled
    assert session.get(Licence, recent.id).state == LicenceState.awaiting_payment
    assert (session.get(Invoice, late_invoice.id).status, session.get(Invoice, recent_invoice.id).status) == (
        InvoiceStatus.void, InvoiceStatus.open)
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "licence.cancelled")).one()
    assert entry.actor_type == "system" and late_invoice.id in entry.after["reason"]
