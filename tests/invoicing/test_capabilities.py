"""Invoicing asks the billing backend what it can do (`backend.capabilities`), never its name: a
provider with the ledger's capabilities under another name is billed the ledger's way."""

from __future__ import annotations

import pytest
from sqlmodel import select

from api.audit.service import Actor
from api.invoicing import charging, periods
from api.invoicing import service as invoicing
from api.invoicing.errors import InvoiceNotPayable
from api.invoicing.models import Invoice, InvoiceStatus
from billing import LedgerBackend, capabilities_of, providers_without
from tests.builders import make_article, make_licence, make_partner

FINANCE = Actor("staff", "stf_finance")


class BankTransfers(LedgerBackend):
    """Another provider that, like the ledger, keeps no invoices and reports no payments."""

    name = "bank"


def test_what_a_stored_rows_provider_does_is_what_its_backend_declares() -> None:
    from billing.stripe_backend import StripeBackend

    assert providers_without("reports_payments") == ["ledger"]
    assert providers_without("bills_subscriptions") == ["ledger"]
    assert capabilities_of("stripe") is StripeBackend.capabilities and capabilities_of("ledger") is LedgerBackend.capabilities
    assert capabilities_of("bank") is None  # a provider this deployment has never had


def _issued_by(session, engine, settings, backend) -> str:
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=500)
    session.commit()
    charging.charge_now(engine, licence_id=licence.id, backend=backend, settings=settings)
    invoice_id = session.exec(select(Invoice.id)).one()
    session.commit()
    return invoice_id


def test_an_invoice_of_a_provider_no_longer_known_is_marked_paid_by_hand(session, engine, settings) -> None:
    """Nothing this deployment runs can report its payment, so finance records it (it was a KeyError)."""
    invoice_id = _issued_by(session, engine, settings, BankTransfers())
    paid = invoicing.mark_paid(session, invoice_id, reference="BACS 7", paid_at=None, actor=FINANCE)
    assert (paid.provider, paid.status) == ("bank", InvoiceStatus.paid)


def test_an_invoice_whose_provider_reports_payments_is_not_marked_paid_by_hand(session, engine, settings) -> None:
    class ReportsPayments(BankTransfers):
        name = "stripe"  # the name a stored row holds decides, whichever backend issued it

    invoice_id = _issued_by(session, engine, settings, ReportsPayments())
    with pytest.raises(InvoiceNotPayable, match="collected by stripe"):
        invoicing.mark_paid(session, invoice_id, reference="BACS 7", paid_at=None, actor=FINANCE)


def test_reconciling_a_backend_that_keeps_no_invoices_compares_nothing(session) -> None:
    """It used to ask `name == "ledger"`, and asked this backend for its invoices (it has none)."""
    assert periods.reconcile(session, backend=BankTransfers()) == []
