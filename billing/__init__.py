"""Payments behind one small interface. The only package that imports `stripe`."""

from billing.base import (
    PROVIDER_CAPABILITIES, BadWebhookSignature, BillingBackend, BillingError, Capabilities, CollectionMethod, LineSpec, PaymentDeclined, ProviderCharge,
    ProviderCheckout, ProviderDispute, ProviderInvoice, ProviderRejected, ProviderSubscription, ProviderUnavailable,
    WebhookEvent, capabilities_of, providers_without,
)
from billing.factory import BillingNotConfigured, build_backend
from billing.ledger import LedgerBackend

__all__ = [
    "PROVIDER_CAPABILITIES", "BadWebhookSignature", "BillingBackend", "Capabilities", "capabilities_of",
    "providers_without", "BillingError", "BillingNotConfigured", "CollectionMethod",
    "LedgerBackend", "LineSpec", "PaymentDeclined", "ProviderCharge", "ProviderCheckout", "ProviderDispute",
    "ProviderInvoice", "ProviderRejected", "ProviderSubscription", "ProviderUnavailable", "WebhookEvent", "build_backend",
]
