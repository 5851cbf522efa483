"""Payments behind one small interface. The only package that imports `stripe`."""

from billing.base import (
    BadWebhookSignature, BillingBackend, BillingError, CollectionMethod, LineSpec, PaymentDeclined, ProviderCharge,
    ProviderCheckout, ProviderDispute, ProviderInvoice, ProviderRejected, ProviderSubscription, ProviderUnavailable,
    WebhookEvent,
)
from billing.factory import BillingNotConfigured, build_backend
from billing.ledger import LedgerBackend

__all__ = [
    "BadWebhookSignature", "BillingBackend", "BillingError", "BillingNotConfigured", "CollectionMethod",
    "LedgerBackend", "LineSpec", "PaymentDeclined", "ProviderCharge", "ProviderCheckout", "ProviderDispute",
    "ProviderInvoice", "ProviderRejected", "ProviderSubscription", "ProviderUnavailable", "WebhookEvent", "build_backend",
]
