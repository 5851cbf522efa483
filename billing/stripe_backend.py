"""The Stripe backend: the official SDK's `StripeClient`, today's API, our idempotency keys on every write.

Nothing here sets SDK globals; each backend owns its client, so tests can point one at a local
server while another talks to Stripe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import stripe

from billing.base import (
    BadWebhookSignature, Capabilities, CollectionMethod, LineSpec, PaymentDeclined, ProviderCharge,
    ProviderCheckout, ProviderDispute, ProviderInvoice, ProviderRejected, ProviderSubscription, ProviderUnavailable,
    WebhookEvent,
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


def _id(value: Any) -> str | None:
    """An expandable field: a bare id, or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    found = value.get("id") if isinstance(value, dict) else getattr(value, "id", None)
    return str(found) if found else None


def invoice_from_stripe(data: dict[str, Any]) -> ProviderInvoice:
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    subscription = details.get("subscription")
    customer = data.get("customer")
    return ProviderInvoice(
        id=data["id"], status=data.get("status") or "draft", amount_due=int(data.get("amount_due") or 0),
        amount_paid=int(data.get("amount_paid") or 0), currency=str(data.get("currency") or "").upper(),
        total=int(data.get("total") or 0), number=data.get("number"), hosted_url=data.get("hosted_invoice_url"), due_at=_when(data.get("due_date")),
        customer_id=_id(customer),
        subscription_id=subscription if isinstance(subscription, str) else None,
        # a subscription's invoices carry our metadata on the subscription, not on themselves
        metadata={**_str_dict(details.get("metadata")), **_str_dict(data.get("metadata"))},
    )


def _lines_digest(lines: Sequence[LineSpec]) -> str:
    """The lines an add_lines request carries, in its idempotency key: other lines (late usage
    after an attempt died) are another request, not a replay refused for other parameters."""
    text = "|".join(f"{line.key}={line.amount}{line.currency}" for line in lines)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checkout(data: dict[str, Any]) -> ProviderCheckout:
    return ProviderCheckout(id=str(data["id"]), url=data.get("url"), status=data.get("status"),
                            payment_status=data.get("payment_status"), invoice_id=_id(data.get("invoice")),
                            metadata=_str_dict(data.get("metadata")))


class StripeBackend:
    name = "stripe"
    capabilities = Capabilities(keeps_invoices=True, bills_subscriptions=True, hosted_payment_pages=True,
                                reports_payments=True)

    def __init__(self, api_key: str, *, api_base: str | None = None, webhook_secret: str | None = None,
                 max_network_retries: int = 2, timeout: float = 20.0) -> None:
        # The SDK waits 80 s for an answer by default; a stalled Stripe would hold an outbox worker
        # for minutes across its retries. `timeout` bounds each attempt (connect and read).
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else {}, max_network_retries=max_network_retries,
            http_client=stripe.new_default_http_client(timeout=timeout),
        )
        self._webhook_secret = webhook_secret
        self.timeout = timeout

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

    def issue_invoice(
        self, *, idempotency_key: str, attempt: int, customer_id: str, currency: str, lines: Sequence[LineSpec],
        collection_method: CollectionMethod, days_until_due: int | None, description: str,
        metadata: dict[str, str],
    ) -> ProviderInvoice:
        """Find or create the draft, bring its lines to ours in one add_lines, compare totals,
        finalize. Several requests, because `invoices.create` takes no lines and an invoice
        finalized at creation (auto_advance) would go out before its total was checked."""
        keys = f"{idempotency_key}:attempt-{attempt}" if attempt else idempotency_key
        with _translated():
            found = self._find_invoice(customer_id, idempotency_key)
            if found is not None and found.get("status") != "draft":
                return invoice_from_stripe(found)  # finalized by an earlier attempt: never touch it again
            if found is None:
                # auto_advance off: a draft we leave behind (crash, totals disagree) stays a draft
                # instead of being finalized and sent by Stripe an hour later.
                params: stripe.params.InvoiceCreateParams = {
                    "customer": customer_id, "currency": currency.lower(), "collection_method": collection_method,
                    "auto_advance": False, "pending_invoice_items_behavior": "exclude", "description": description,
                    "metadata": {**metadata, "syndicate_key": idempotency_key},
                }
                if collection_method == "send_invoice":
                    params["days_until_due"] = days_until_due or 30
                draft = self._client.v1.invoices.create(params=params, options={"idempotency_key": f"{keys}:create"})
                invoice_id, missing = draft.id, list(lines)
            else:
                invoice_id, missing = str(found["id"]), self._drop_stale_lines(str(found["id"]), lines)
            if missing:
                current = self._client.v1.invoices.add_lines(invoice_id, params={"lines": [
                    {"amount": line.amount, "description": line.description,
                     "metadata": {**line.metadata, "syndicate_line": line.key}} for line in missing]},
                    options={"idempotency_key": f"{keys}:lines:{_lines_digest(missing)}"}).to_dict()
            else:
                current = self._client.v1.invoices.retrieve(invoice_id).to_dict()
            draft_read = invoice_from_stripe(current)
            if draft_read.total != sum(line.amount for line in lines) or draft_read.currency != currency.upper():
                return draft_read  # left a draft: the caller holds it back, nothing is sent
            final = self._client.v1.invoices.finalize_invoice(
                invoice_id, params={"auto_advance": True}, options={"idempotency_key": f"{keys}:finalize"})
        return invoice_from_stripe(final.to_dict())

    def _find_invoice(self, customer_id: str, key: str) -> dict[str, Any] | None:
        """The invoice an earlier attempt created under `key`, whatever Stripe's idempotency store
        still remembers. Listing the customer's invoices is read-after-write consistent (Search
        is not, and lags by up to a minute), and a customer has few invoices."""
        listing = self._client.v1.invoices.list(params={"customer": customer_id, "limit": 100})
        for invoice in listing.auto_paging_iter():
            data = invoice.to_dict()
            if _str_dict(data.get("metadata")).get("syndicate_key") == key and data.get("status") != "void":
                return data
        return None

    def _drop_stale_lines(self, invoice_id: str, lines: Sequence[LineSpec]) -> list[LineSpec]:
        """On a draft an earlier attempt left: keep its items that match our lines, delete the
        others (a quantity that grew with late usage), and return the lines still to add."""
        wanted = {line.key: line for line in lines}
        kept: set[str] = set()
        for item in self._client.v1.invoice_items.list(params={"invoice": invoice_id, "limit": 100}).auto_paging_iter():
            data = item.to_dict()
            line = wanted.get(_str_dict(data.get("metadata")).get("syndicate_line", ""))
            if line is not None and line.key not in kept and int(data.get("amount") or 0) == line.amount \
                    and str(data.get("currency") or "").upper() == line.currency.upper():
                kept.add(line.key)
            else:
                self._client.v1.invoice_items.delete(item.id)
        return [line for line in lines if line.key not in kept]

    def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        with _translated():
            current = invoice_from_stripe(self._client.v1.invoices.retrieve(invoice_id).to_dict())
            if current.status == "draft":
                # Stripe voids only finalized invoices; a draft was never sent and is deleted.
                self._client.v1.invoices.delete(invoice_id)
                return replace(current, status="void")
            if current.status not in ("open", "uncollectible"):
                return current  # void already, or paid: nothing to call off
            voided = self._client.v1.invoices.void_invoice(
                invoice_id, options={"idempotency_key": f"{idempotency_key}:void"})
        return invoice_from_stripe(voided.to_dict())

    def expire_checkout_session(self, session_id: str, *, idempotency_key: str) -> ProviderCheckout:
        with _translated():
            current = _checkout(self._client.v1.checkout.sessions.retrieve(session_id).to_dict())
            if current.status != "open":
                return current  # completed or expired already
            return _checkout(self._client.v1.checkout.sessions.expire(
                session_id, options={"idempotency_key": f"{idempotency_key}:expire"}).to_dict())

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
        self, *, idempotency_key: str, customer_id: str, price_id: str, quantity: int, description: str,
        success_url: str, cancel_url: str, client_reference_id: str, metadata: dict[str, str],
    ) -> ProviderCheckout:
        with _translated():
            # The price comes from ensure_price (found by lookup key): price_data would make a new
            # Product at every session.
            session = self._client.v1.checkout.sessions.create(
                params={
                    "mode": "payment", "customer": customer_id, "client_reference_id": client_reference_id,
                    "success_url": success_url, "cancel_url": cancel_url, "metadata": metadata,
                    "line_items": [{"price": price_id, "quantity": quantity}],
                    "payment_intent_data": {"description": description, "metadata": metadata},
                    "invoice_creation": {"enabled": True, "invoice_data": {"description": description,
                                                                           "metadata": metadata}},
                },
                options={"idempotency_key": idempotency_key},
            )
        return _checkout(session.to_dict())

    def retrieve_checkout_session(self, session_id: str) -> ProviderCheckout:
        with _translated():
            return _checkout(self._client.v1.checkout.sessions.retrieve(session_id).to_dict())

    # charges and disputes ----------------------------------------------------------------------

    def retrieve_charge(self, charge_id: str) -> ProviderCharge:
        with _translated():
            charge = self._client.v1.charges.retrieve(charge_id).to_dict()
            payment_intent = _id(charge.get("payment_intent"))
            invoice_id = None
            if payment_intent:
                # Today's API links invoices and payments through InvoicePayment (a charge no
                # longer names its invoice).
                payments = self._client.v1.invoice_payments.list(params={
                    "payment": {"type": "payment_intent", "payment_intent": payment_intent}, "limit": 1})
                if payments.data:
                    invoice_id = _id(payments.data[0].to_dict().get("invoice"))
        return ProviderCharge(id=str(charge["id"]), amount=int(charge.get("amount") or 0),
                              amount_refunded=int(charge.get("amount_refunded") or 0),
                              currency=str(charge.get("currency") or "").upper(), invoice_id=invoice_id,
                              customer_id=_id(charge.get("customer")))

    def retrieve_dispute(self, dispute_id: str) -> ProviderDispute:
        with _translated():
            dispute = self._client.v1.disputes.retrieve(dispute_id).to_dict()
        return ProviderDispute(id=str(dispute["id"]), charge_id=str(_id(dispute.get("charge")) or ""),
                               amount=int(dispute.get("amount") or 0),
                               currency=str(dispute.get("currency") or "").upper(),
                               status=str(dispute.get("status") or ""), reason=dispute.get("reason"))

    def credit_customer(self, *, idempotency_key: str, customer_id: str, amount: int, currency: str,
                        description: str, metadata: dict[str, str]) -> str:
        # A negative customer balance transaction: Stripe applies the credit to the customer's
        # next finalized invoices (credit notes adjust one invoice; a difference is not tied to one).
        with _translated():
            made = self._client.v1.customers.balance_transactions.create(
                customer_id, params={"amount": -amount, "currency": currency.lower(), "description": description,
                                     "metadata": metadata},
                options={"idempotency_key": idempotency_key})
        return made.id

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
