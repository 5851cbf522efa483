"""Invoicing asks the billing backend what it can do (`backend.capabilities`), never its name: a
provider with the ledger's capabilities under another name is billed the ledger's way."""

from __future__ import annotations

from api.invoicing import periods
from billing import PROVIDER_CAPABILITIES, LedgerBackend, capabilities_of, providers_without


class BankTransfers(LedgerBackend):
    """Another provider that, like the ledger, keeps no invoices and reports no payments."""

    name = "bank"


def test_every_backend_declares_its_providers_capabilities() -> None:
    from billing.stripe_backend import StripeBackend

    assert LedgerBackend.capabilities == capabilities_of("ledger")
    assert StripeBackend.capabilities == capabilities_of("stripe")
    assert set(PROVIDER_CAPABILITIES) == {"ledger", "stripe"}


def test_only_the_ledger_is_paid_by_hand_and_bills_its_own_subscriptions() -> None:
    assert providers_without("reports_payments") == ["ledger"]
    assert providers_without("bills_subscriptions") == ["ledger"]
    assert not capabilities_of("ledger").hosted_payment_pages and capabilities_of("stripe").hosted_payment_pages


def test_reconciling_a_backend_that_keeps_no_invoices_compares_nothing(session) -> None:
    """It used to ask `name == "ledger"`, and asked this backend for its invoices (it has none)."""
    assert periods.reconcile(session, backend=BankTransfers()) == []
