"""Build the configured backend from settings: `billing_backend = "ledger" | "stripe"`."""

from __future__ import annotations

from typing import Any

from billing.base import BillingBackend, BillingError
from billing.ledger import LedgerBackend


class BillingNotConfigured(BillingError):
    pass


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def build_backend(settings: Any) -> BillingBackend:
    """`settings` is api.core.config.Settings (duck-typed so billing/ stays free of the api package)."""
    if settings.billing_backend == "ledger":
        return LedgerBackend()
    if settings.billing_backend == "stripe":
        from billing.stripe_backend import StripeBackend

        api_key = _secret(settings.stripe_api_key)
        if not api_key:
            raise BillingNotConfigured("billing_backend is 'stripe' but SYNDICATE_STRIPE_API_KEY is not set.")
        return StripeBackend(api_key, api_base=settings.stripe_api_base,
                             webhook_secret=_secret(settings.stripe_webhook_secret))
    raise BillingNotConfigured(f"Unknown billing backend {settings.billing_backend!r}; use 'ledger' or 'stripe'.")
