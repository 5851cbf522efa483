"""The Stripe backend: the official SDK's `StripeClient`, today's API, our idempotency keys on every write.

Nothing here sets SDK globals; each backend owns its client, so tests can point one at a local
server while another talks to Stripe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import stripe

from billing.base import (
    BadWebhookSignature, CollectionMethod, LineSpec, PaymentDeclined, ProviderCheckout, ProviderInvoice,
    ProviderRejected, ProviderSubscription, ProviderUnavailable, WebhookEvent,
)

WEBHOOK_TOLERANCE_SECONDS = 300


@contextmanager
def _translated() -> Iterator[None]:
    """Map the SDK's errors onto ours: callers retry on ProviderUnavailable and stop on the rest."""
    try:
        yield
    except stripe.CardError as exc:
        raise PaymentDeclined(exc.user_message or str(exc), code=exc.code) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise ProviderUnavailable(f"Stripe could not be reached: {exc.user_message or exc}") from exc
    except stripe.APIError as exc:
        raise ProviderUnavailable(f"Stripe answered with an error: {exc.user_message or exc}") from exc
    except stripe.StripeError as exc:
        raise ProviderRejected(f"Stripe refused the request: {exc.user_message or exc}") from exc


def _when(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _str_dict(values: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def invoice_from_stripe(data: dict[str, Any]) -> ProviderInvoice:
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    subscription = details.get("subscription")
    customer = data.get("customer")
    return ProviderInvoice(
        id=data["id"], status=data.get("status") or "draft", amount_due=int(data.get("amount_due") or 0),
        amount_paid=int(data.get("amount_paid") or 0), currency=str(data.get("currency") or "").upper(),
        number=data.get("number"), hosted_url=data.get("hosted_invoice_url"), due_at=_when(data.get("due_date")),
        customer_id=customer if isinstance(customer, str) else (customer or {}).get("id"),
        subscription_id=subscription if isinstance(subscription, str) else None,
        # a subscription's invoices carry our metadata on the subscription, not on themselves
        metadata={**_str_dict(details.get("metadata")), **_str_dict(data.get("metadata"))},
    )


class StripeBackend:
    name = "stripe"

    def __init__(self, api_key: str, *, api_base: str | None = None, webhook_secret: str | None = None,
                 max_network_retries: int = 2) -> None:
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else {}, max_network_retries=max_network_retries,
        )
        self._webhook_secret = webhook_secret

    # customers and prices ------------------------------------------------------------------

    def ensure_customer(self, *, partner_id: str, name: str, email: str, currency: str) -> str:
        with _translated():
            # Our database remembers the customer; this lookup covers a crash between Stripe's
            # answer and our commit that outlives the 24 h idempotency window.
            for customer in self._client.v1.customers.list(params={"email": email, "limit": 100}).auto_paging_iter():
                if _str_dict(customer.to_dict().get("metadata")).get("syndicate_partner_id") == partner_id:
                    return customer.id
            created = self._client.v1.customers.create(
                params={"name": name, "email": email, "metadata": {"syndicate_partner_id": partner_id},
                        "preferred_locales": ["en"]},
                options={"idempotency_key": f"customer:{partner_id}"},
            )
            return created.id

    def ensure_price(
        self, *, lookup_key: str, product_name: str, unit_amount: int, currency: str,
        interval: Literal["month", "year"] | None = None,
    ) -> str:
        with _translated():
            found = self._client.v1.prices.list(params={"lookup_keys": [lookup_key], "limit": 1})
            if found.data:
                return found.data[0].id
            params: stripe.params.PriceCreateParams = {
                "lookup_key": lookup_key, "currency": currency.lower(), "unit_amount": unit_amount,
                "product_data": {"name": product_name}, "metadata": {"syndicate_lookup_key": lookup_key},
            }
            if interval:
                params["recurring"] = {"interval": interval}
            return self._client.v1.prices.create(params=params, options={"idempotency_key": f"price:{lookup_key}"}).id

    # invoices --------------------------------------------------------------------------------

    def create_invoice(
        self, *, idempotency_key: str, customer_id: str, currency: str, lines: Sequence[LineSpec],
        collection_method: CollectionMethod, days_until_due: int | None, description: str,
        metadata: dict[str, str],
    ) -> ProviderInvoice:
        params: stripe.params.InvoiceCreateParams = {
            "customer": customer_id, "currency": currency.lower(), "collection_method": collection_method,
            "auto_advance": True, "pending_invoice_items_behavior": "exclude", "description": description,
            "metadata": {**metadata, "syndicate_key": idempotency_key},
        }
        if collection_method == "send_invoice":
            params["days_until_due"] = days_until_due or 30
        with _translated():
            draft = self._client.v1.invoices.create(params=params, options={"idempotency_key": f"{idempotency_key}:create"})
            for line in lines:
                self._client.v1.invoice_items.create(
                    params={"customer": customer_id, "invoice": draft.id, "amount": line.amount,
                            "currency": line.currency.lower(), "description": line.description,
                            "metadata": {**line.metadata, "syndicate_line": line.key}},
                    options={"idempotency_key": f"{idempotency_key}:line:{line.key}"},
                )
            final = self._client.v1.invoices.finalize_invoice(
                draft.id, params={"auto_advance": True}, options={"idempotency_key": f"{idempotency_key}:finalize"},
            )
        return invoice_from_stripe(final.to_dict())

    def retrieve_invoice(self, invoice_id: str) -> ProviderInvoice:
        with _translated():
            return invoice_from_stripe(self._client.v1.invoices.retrieve(invoice_id).to_dict())

    def list_invoices(self, *, created_since: datetime | None = None) -> Iterator[ProviderInvoice]:
        params: stripe.params.InvoiceListParams = {"limit": 100}
        if created_since:
            params["created"] = {"gte": int(created_since.timestamp())}
        with _translated():
            for invoice in self._client.v1.invoices.list(params=params).auto_paging_iter():
                yield invoice_from_stripe(invoice.to_dict())

    # checkout and subscriptions ----------------------------------------------------------------

    def create_checkout_session(
        self, *, idempotency_key: str, customer_id: str, line: LineSpec, success_url: str, cancel_url: str,
        client_reference_id: str, metadata: dict[str, str],
    ) -> ProviderCheckout:
        with _translated():
            session = self._client.v1.checkout.sessions.create(
                params={
                    "mode": "payment", "customer": customer_id, "client_reference_id": client_reference_id,
                    "success_url": success_url, "cancel_url": cancel_url, "metadata": metadata,
                    "line_items": [{"quantity": line.quantity, "price_data": {
                        "currency": line.currency.lower(), "unit_amount": line.unit_amount,
                        "product_data": {"name": line.description}}}],
                    "invoice_creation": {"enabled": True, "invoice_data": {"metadata": metadata}},
                },
                options={"idempotency_key": idempotency_key},
            )
        return ProviderCheckout(id=session.id, url=session.url, status=session.status,
                                payment_status=session.payment_status)

    def retrieve_checkout_session(self, session_id: str) -> ProviderCheckout:
        with _translated():
            session = self._client.v1.checkout.sessions.retrieve(session_id)
        return ProviderCheckout(id=session.id, url=session.url, status=session.status,
                                payment_status=session.payment_status)

    def create_subscription(
        self, *, idempotency_key: str, customer_id: str, price_id: str, collection_method: CollectionMethod,
        days_until_due: int | None, cancel_at: datetime | None, metadata: dict[str, str],
    ) -> ProviderSubscription:
        params: stripe.params.SubscriptionCreateParams = {
            "customer": customer_id, "items": [{"price": price_id, "quantity": 1}],
            "collection_method": collection_method, "metadata": metadata,
        }
        if collection_method == "send_invoice":
            params["days_until_due"] = days_until_due or 30
        if cancel_at:
            # The feed licence has an end; the subscription stops billing with it.
            params["cancel_at"] = int(cancel_at.timestamp())
        with _translated():
            sub = self._client.v1.subscriptions.create(params=params, options={"idempotency_key": idempotency_key})
        latest = sub.latest_invoice
        return ProviderSubscription(id=sub.id, status=sub.status,
                                    latest_invoice_id=latest if isinstance(latest, str) else getattr(latest, "id", None))

    # webhooks ----------------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        if not self._webhook_secret:
            raise BadWebhookSignature("No webhook signing secret is configured (SYNDICATE_STRIPE_WEBHOOK_SECRET).")
        try:
            stripe.Webhook.construct_event(
                payload, signature_header, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS,
            )
        except stripe.SignatureVerificationError as exc:
            raise BadWebhookSignature(str(exc)) from exc
        except ValueError as exc:  # not JSON
            raise BadWebhookSignature(f"The webhook body is not a JSON event: {exc}") from exc
        data: dict[str, Any] = json.loads(payload)  # the raw JSON: to_dict() turns *_decimal fields into Decimal
        return WebhookEvent(id=data["id"], type=data["type"], created=int(data.get("created") or 0),
                            object=dict((data.get("data") or {}).get("object") or {}), payload=data)
