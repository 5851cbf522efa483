"""Build the configured backend from settings: `billing_backend = "ledger" | "stripe"`."""

from __future__ import annotations

from typing import Any

from billing.base import BillingBackend, BillingError, Capabilities
from billing.ledger import LedgerBackend


class BillingNotConfigured(BillingError):
    pass


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


PROVIDERS = ("ledger", "stripe")  # every backend Syndicate has had: the names our rows store


def backend_class(provider: str) -> type[BillingBackend] | None:
    """The backend class of a provider a stored row names (`invoice.provider`,
    `billing_subscription.provider`), so a row made by one provider follows that provider's rules even
    after the deployment switches; None for a name Syndicate does not know."""
    if provider == "ledger":
        return LedgerBackend
    if provider == "stripe":
        from billing.stripe_backend import StripeBackend

        return StripeBackend
    return None


def capabilities_of(provider: str) -> Capabilities | None:
    """What the provider a stored row names does by itself (its backend's `capabilities`), or None
    for a provider Syndicate does not know."""
    found = backend_class(provider)
    return found.capabilities if found is not None else None


def providers_without(capability: str) -> list[str]:
    """The provider names whose backend lacks `capability` (a Capabilities field), for a query over stored rows."""
    return [name for name in PROVIDERS if not getattr(capabilities_of(name), capability)]


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
                             webhook_secret=_secret(settings.stripe_webhook_secret),
                             timeout=getattr(settings, "stripe_timeout_seconds", 20.0))
    raise BillingNotConfigured(f"Unknown billing backend {settings.billing_backend!r}; use 'ledger' or 'stripe'.")
