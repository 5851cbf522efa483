"""Payments behind one small interface. The only package that imports `stripe`."""

from billing.base import (
    BadWebhookSignature, BillingBackend, BillingError, Capabilities, CollectionMethod, LineSpec, PaymentDeclined, ProviderCharge,
    ProviderCheckout, ProviderDispute, ProviderInvoice, ProviderRejected, ProviderSubscription, ProviderUnavailable,
    WebhookEvent,
)
from billing.factory import BillingNotConfigured, backend_class, build_backend, capabilities_of, providers_without
from billing.ledger import LedgerBackend

__all__ = [
    "BadWebhookSignature", "BillingBackend", "Capabilities", "backend_class", "capabilities_of",
    "providers_without", "BillingError", "BillingNotConfigured", "CollectionMethod",
    "LedgerBackend", "LineSpec", "PaymentDeclined", "ProviderCharge", "ProviderCheckout", "ProviderDispute",
    "ProviderInvoice", "ProviderRejected", "ProviderSubscription", "ProviderUnavailable", "WebhookEvent", "build_backend",
]
