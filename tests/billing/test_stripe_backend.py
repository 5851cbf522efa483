"""The Stripe backend against the Stripe-shaped loopback server: what it sends, and idempotency."""

from __future__ import annotations

import json
import threading
import time

import pytest
import stripe

from billing import BadWebhookSignature, LineSpec, PaymentDeclined, ProviderRejected, ProviderUnavailable
from billing.stripe_backend import StripeBackend
from tests.billing.events import event, fixture_object, sign, WEBHOOK_SECRET

LINES = [LineSpec(key="lic_a", description="Licence A", unit_amount=5000, quantity=3, currency="GBP"),
         LineSpec(key="lic_b", description="Licence B", unit_amount=1250, quantity=1, currency="GBP")]


def _invoice(backend: StripeBackend, key: str = "invoice:ptn_1:2026-11", lines=LINES, customer: str = "cus_x",
             attempt: int = 0):
    return backend.issue_invoice(idempotency_key=key, attempt=attempt, customer_id=customer, currency="GBP",
                                 lines=lines, collection_method="send_invoice", days_until_due=14,
                                 description="Usage 2026-11", metadata={"syndicate_partner_id": "ptn_1"})


def test_invoice_is_created_filled_and_finalized_in_one_call_with_our_keys(stripe_backend, stripe_double) -> None:
    invoice = _invoice(stripe_backend)
    assert (invoice.status, invoice.amount_due, invoice.total, invoice.currency) == ("open", 16250, 16250, "GBP")
    # One call of ours; at Stripe: find an earlier draft, create, add every line at once, finalize.
    assert [(r.method, r.path.replace(invoice.id, "ID")) for r in stripe_double.state.requests] == [
        ("GET", "/v1/invoices"), ("POST", "/v1/invoices"), ("POST", "/v1/invoices/ID/add_lines"),
        ("POST", "/v1/invoices/ID/finalize")]
    created = stripe_double.calls("POST", "/v1/invoices")[0]
    assert created.idempotency_key == "invoice:ptn_1:2026-11:create"
    assert created.params["collection_method"] == "send_invoice"
    assert created.params["days_until_due"] == "14"
    assert created.params["currency"] == "gbp"
    assert created.params["pending_invoice_items_behavior"] == "exclude"
    assert created.params["auto_advance"] == "false"  # a draft left behind is never sent by Stripe on its own
    (added,) = stripe_double.calls("POST", r"/v1/invoices/in_\w+/add_lines")
    assert added.idempotency_key.startswith("invoice:ptn_1:2026-11:lines:")
    assert [(added.params[f"lines[{n}][amount]"], added.params[f"lines[{n}][metadata][syndicate_line]"])
            for n in range(2)] == [("15000", "lic_a"), ("1250", "lic_b")]
    finalize = stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize")
    assert finalize[0].idempotency_key == "invoice:ptn_1:2026-11:finalize"
    assert finalize[0].params["auto_advance"] == "true"
    # totals agree to the unit with what the provider holds
    assert stripe_double.state.objects[invoice.id]["amount_due"] == sum(line.amount for line in LINES)


def test_repeating_an_issue_returns_the_invoice_it_issued(stripe_backend, stripe_double) -> None:
    first = _invoice(stripe_backend)
    stripe_double.forget_idempotency_keys()
    again = _invoice(stripe_backend, attempt=1)
    assert again.id == first.id and again.status == "open"
    assert len(stripe_double.of_kind("invoice")) == 1
    assert len(stripe_double.of_kind("invoiceitem")) == 2


def test_failure_in_the_middle_then_retry_issues_one_invoice_under_fresh_keys(stripe_backend, stripe_double) -> None:
    """Stripe saves a 500 under its idempotency key and replays it: the retry (the caller's next
    attempt) uses fresh keys, finds the draft the failed attempt made and finishes it."""
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=500)
    with pytest.raises(ProviderUnavailable):
        _invoice(stripe_backend)
    (draft,) = stripe_double.of_kind("invoice")
    assert draft["status"] == "draft" and draft["total"] == 16250
    final = _invoice(stripe_backend, attempt=1)
    assert final.id == draft["id"] and final.status == "open" and final.total == 16250
    assert len(stripe_double.of_kind("invoice")) == 1 and len(stripe_double.of_kind("invoiceitem")) == 2
    assert len(stripe_double.calls("POST", "/v1/invoices")) == 1  # found, not created again
    assert [c.idempotency_key for c in stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize")] == [
        "invoice:ptn_1:2026-11:finalize", "invoice:ptn_1:2026-11:attempt-1:finalize"]


def test_a_total_that_disagrees_is_never_finalized(stripe_backend, stripe_double) -> None:
    """The provider's total differs from ours (a tax or fee added at Stripe): left a draft, unsent."""
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=500)
    with pytest.raises(ProviderUnavailable):
        _invoice(stripe_backend)
    (draft,) = stripe_double.of_kind("invoice")
    stripe_double.update(draft["id"], total=draft["total"] + 75)
    held = _invoice(stripe_backend, attempt=1)
    assert (held.id, held.status, held.total) == (draft["id"], "draft", 16250 + 75)
    assert len(stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize")) == 1  # only the failed first try
    assert stripe_double.state.objects[draft["id"]]["status"] == "draft"


def test_same_key_with_other_parameters_is_refused(stripe_backend) -> None:
    stripe_backend.ensure_customer(partner_id="ptn_1", name="Outlet", email="a@o.example", currency="GBP")
    # the same partner under another e-mail is not found by the lookup, and its key is reused
    with pytest.raises(ProviderRejected, match="same parameters") as info:
        stripe_backend.ensure_customer(partner_id="ptn_1", name="Outlet", email="b@o.example", currency="GBP")
    assert isinstance(info.value.__cause__, stripe.IdempotencyError)


def test_found_draft_is_reused_and_its_lines_follow_ours(stripe_backend, stripe_double) -> None:
    """Beyond Stripe's 24 h the keys are forgotten: the draft is found by our metadata, a line
    whose quantity grew is replaced, and nothing is created twice."""
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=500)
    with pytest.raises(ProviderUnavailable):
        _invoice(stripe_backend)
    (first,) = stripe_double.of_kind("invoice")
    stale = next(o["id"] for o in stripe_double.of_kind("invoiceitem") if o["amount"] == 15000)
    stripe_double.forget_idempotency_keys()
    grown = [LineSpec(key="lic_a", description="Licence A", unit_amount=5000, quantity=4, currency="GBP"), LINES[1]]
    final = _invoice(stripe_backend, lines=grown, attempt=1)
    assert final.id == first["id"] and final.status == "open" and final.total == 4 * 5000 + 1250
    assert len(stripe_double.calls("POST", "/v1/invoices")) == 1
    assert [r.path for r in stripe_double.state.requests if r.method == "DELETE"] == [f"/v1/invoiceitems/{stale}"]
    assert sorted(o["amount"] for o in stripe_double.of_kind("invoiceitem")) == [1250, 20000]
    added = stripe_double.calls("POST", r"/v1/invoices/in_\w+/add_lines")
    assert len(added) == 2 and added[1].params["lines[0][amount]"] == "20000" and "lines[1][amount]" not in added[1].params
    stripe_double.forget_idempotency_keys()
    assert _invoice(stripe_backend, lines=LINES, attempt=2).id == final.id  # finalized: returned as it is
    assert len(stripe_double.calls("POST", r"/v1/invoices/in_\w+/add_lines")) == 2
    assert _invoice(stripe_backend, customer="cus_other").id != first["id"]  # another customer's invoice is not ours


def test_customer_is_found_before_it_is_created(stripe_backend, stripe_double) -> None:
    first = stripe_backend.ensure_customer(partner_id="ptn_1", name="Outlet", email="b@o.example", currency="GBP")
    second = stripe_backend.ensure_customer(partner_id="ptn_1", name="Outlet", email="b@o.example", currency="GBP")
    other = stripe_backend.ensure_customer(partner_id="ptn_2", name="Other", email="b@o.example", currency="GBP")
    assert first == second != other
    posts = stripe_double.calls("POST", "/v1/customers")
    assert [p.idempotency_key for p in posts] == ["customer:ptn_1", "customer:ptn_2"]
    assert posts[0].params["metadata[syndicate_partner_id]"] == "ptn_1"


def test_price_is_found_by_lookup_key(stripe_backend, stripe_double) -> None:
    kwargs = dict(lookup_key="syndicate-feed-monthly-gbp-9900", product_name="Feed", unit_amount=9900,
                  currency="GBP", interval="month")
    first = stripe_backend.ensure_price(**kwargs)
    assert stripe_backend.ensure_price(**kwargs) == first
    created = stripe_double.calls("POST", "/v1/prices")
    assert len(created) == 1 and created[0].idempotency_key == "price:syndicate-feed-monthly-gbp-9900"
    assert created[0].params["recurring[interval]"] == "month"
    assert created[0].params["lookup_key"] == "syndicate-feed-monthly-gbp-9900"
    assert stripe_double.calls("GET", "/v1/prices")[0].params == {"lookup_keys[0]": "syndicate-feed-monthly-gbp-9900",
                                                                  "limit": "1"}


def test_subscription_and_checkout_send_todays_parameters(stripe_backend, stripe_double) -> None:
    price = stripe_backend.ensure_price(lookup_key="k", product_name="Feed", unit_amount=100, currency="EUR",
                                        interval="month")
    sub = stripe_backend.create_subscription(idempotency_key="subscription:lic_1", customer_id="cus_1", price_id=price,
                                             collection_method="send_invoice", days_until_due=30, cancel_at=None,
                                             metadata={"syndicate_licence_id": "lic_1"})
    assert sub.status == "active"
    sent = stripe_double.calls("POST", "/v1/subscriptions")[0]
    assert sent.params["items[0][price]"] == price and sent.idempotency_key == "subscription:lic_1"
    fee = stripe_backend.ensure_price(lookup_key="fee-eur-1250", product_name="Fee", unit_amount=1250, currency="EUR")
    checkout = stripe_backend.create_checkout_session(
        idempotency_key="checkout:lic_2", customer_id="cus_1", price_id=fee, quantity=1, description="Licence B",
        success_url="https://s.test/ok", cancel_url="https://s.test/no", client_reference_id="lic_2",
        metadata={"syndicate_licence_id": "lic_2"})
    assert checkout.url and checkout.id.startswith("cs_")
    sent = stripe_double.calls("POST", "/v1/checkout/sessions")[0]
    assert sent.params["line_items[0][price]"] == fee and not any("price_data" in k for k in sent.params)
    assert sent.params["invoice_creation[invoice_data][metadata][syndicate_licence_id]"] == "lic_2"
    assert sent.params["mode"] == "payment" and sent.idempotency_key == "checkout:lic_2"


def test_outage_and_server_errors_are_retryable(stripe_backend, stripe_double) -> None:
    stripe_double.fail("POST", "/v1/invoices", status=500)
    with pytest.raises(ProviderUnavailable):
        _invoice(stripe_backend)
    stripe_double.stop()
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        _invoice(stripe_backend)


def test_a_stalled_stripe_is_given_up_on_after_the_timeout(stalled_redis) -> None:
    # stalled_redis is only a TCP server that takes connections and never answers: a stalled Stripe.
    url, accepted = stalled_redis
    stalled = StripeBackend("sk_test_syndicate", api_base=url.replace("redis://", "http://").rsplit("/", 1)[0],
                            webhook_secret=WEBHOOK_SECRET, max_network_retries=0, timeout=0.3)
    raised: list[BaseException] = []

    def call() -> None:
        try:
            stalled.ensure_customer(partner_id="ptn_1", name="Outlet", email="billing@outlet.example", currency="GBP")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            raised.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(10)  # a liveness bound, far above 0.3 s and far below the SDK's own 80 s
    assert not caller.is_alive(), "the call to a stalled Stripe was still waiting"
    assert accepted and len(raised) == 1 and isinstance(raised[0], ProviderUnavailable)
    assert "could not be reached" in str(raised[0])


def test_the_factory_passes_the_configured_timeout(settings) -> None:
    from pydantic import SecretStr

    from billing.factory import build_backend

    configured = settings.model_copy(update={"billing_backend": "stripe", "stripe_api_key": SecretStr("sk_test_x"),
                                             "stripe_webhook_secret": SecretStr("whsec_x"), "stripe_timeout_seconds": 7.5})
    backend = build_backend(configured)
    assert isinstance(backend, StripeBackend) and backend.timeout == 7.5


def test_card_error_becomes_payment_declined(stripe_backend, stripe_double) -> None:
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=402, error_type="card_error")
    with pytest.raises(PaymentDeclined) as info:
        _invoice(stripe_backend)
    assert isinstance(info.value.__cause__, stripe.CardError)


def test_webhook_signature_checks(stripe_backend) -> None:
    payload = json.dumps(event("invoice.paid", fixture_object("invoice", id="in_1"))).encode()
    good = stripe_backend.verify_webhook(payload, sign(payload))
    assert good.type == "invoice.paid" and good.object["id"] == "in_1"
    with pytest.raises(BadWebhookSignature):
        stripe_backend.verify_webhook(payload, sign(payload, secret="whsec_wrong"))
    with pytest.raises(BadWebhookSignature, match="tolerance"):
        stripe_backend.verify_webhook(payload, sign(payload, timestamp=int(time.time()) - 301))
    with pytest.raises(BadWebhookSignature):
        stripe_backend.verify_webhook(payload + b" ", sign(payload))
    with pytest.raises(BadWebhookSignature):
        stripe_backend.verify_webhook(payload, None)
    assert WEBHOOK_SECRET.startswith("whsec_")
