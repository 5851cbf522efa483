"""The price difference of an amendment is invoiced (one-off line) or credited, once, never dropped."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from api.core.db import new_id, utcnow
from api.invoicing.models import Invoice, InvoiceLine
from api.licensing import amendments, grants
from api.licensing.amendments import SETTLE_TOPIC
from api.outbox import service as outbox
from tests.builders import TEST_ACTOR, make_article, make_licence, make_partner


def _active(session, **kwargs):
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=24_000,
                           **kwargs)
    grants.activate(session, licence, actor=TEST_ACTOR)
    return licence


def _settle(session, engine, amendment, *, again: bool = False):
    """Deliver the amendment's `invoicing.settle_amendment` message (queued by the amendment; `again`:
    once more, as a redelivery would) and return the reference it settled with."""
    if again:
        outbox.enqueue(session, SETTLE_TOPIC, {"amendment_id": amendment.id}, dedupe_key=f"again:{new_id('t')}")
    session.commit()
    outbox.drain(engine, topics={SETTLE_TOPIC})
    session.refresh(amendment)
    return amendment.settled_ref


def test_a_positive_difference_is_one_invoice_with_one_line_however_often_it_runs(session, engine):
    licence = _active(session)
    amendment = amendments.amend(session, licence.id, changes={"ends_at": licence.starts_at + timedelta(days=200)},
                                 reason="Longer", actor=TEST_ACTOR)
    first = _settle(session, engine, amendment)
    assert _settle(session, engine, amendment, again=True) == first
    invoice = session.exec(select(Invoice).where(Invoice.charge_key == f"amendment:{amendment.id}")).one()
    # Drafted here, sent by the worker with no transaction open (invoicing.issue_invoice).
    assert invoice.id == first and str(invoice.kind) == "amendment" and invoice.status == "draft"
    session.commit()
    outbox.drain(engine)
    session.refresh(invoice)
    assert invoice.status == "open"
    [line] = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    assert line.amount == amendment.price_difference > 0 and line.licence_id == licence.id
    assert amendment.settled_ref == invoice.id


def test_a_negative_difference_is_a_stripe_customer_credit_sent_once(session, engine, stripe_settings, stripe_double):
    licence = _active(session, days=300)
    amendment = amendments.amend(session, licence.id, changes={"ends_at": utcnow() + timedelta(days=20)},
                                 reason="Shorter", actor=TEST_ACTOR)
    ref = _settle(session, engine, amendment)
    assert ref.startswith("cbtxn_") and _settle(session, engine, amendment, again=True) == ref
    [call] = stripe_double.calls("POST", r"/v1/customers/cus_\w+/balance_transactions")
    assert int(call.params["amount"]) == amendment.price_difference < 0
    assert call.params["currency"] == "gbp" and call.idempotency_key == f"amendment-credit:{amendment.id}"
    [customer] = stripe_double.of_kind("customer")
    assert customer["balance"] == amendment.price_difference  # taken off the next invoice at finalization


def test_a_ledger_credit_is_recorded_on_the_amendment(session, engine):
    licence = _active(session, days=300)
    amendment = amendments.amend(session, licence.id, changes={"ends_at": utcnow() + timedelta(days=20)},
                                 reason="Shorter", actor=TEST_ACTOR)
    assert _settle(session, engine, amendment).startswith("ledgercredit_")
    assert session.exec(select(Invoice).where(Invoice.charge_key == f"amendment:{amendment.id}")).first() is None
