"""Integration tier: the real SDK against localstripe (PyPI), for what localstripe truly supports.

localstripe 1.15 has no Prices/lookup_key, no invoices without a subscription, no finalize, no
Checkout and ignores idempotency keys: those paths are covered against the Stripe-shaped loopback
server (test_stripe_backend.py) and with signed payloads (tests/invoicing/test_webhooks.py).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import stripe

from billing import BadWebhookSignature, PaymentDeclined
from billing.stripe_backend import StripeBackend, _translated

SECRET = "whsec_localstripe_test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def localstripe_url() -> Iterator[str]:
    port = _free_port()
    code = ("import aiohttp.web, localstripe.server as s; "
            f"aiohttp.web.run_app(s.app, host='127.0.0.1', port={port}, print=None)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.delete(f"{url}/_config/data").status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(up)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def backend(localstripe_url: str) -> StripeBackend:
    httpx.delete(f"{localstripe_url}/_config/data")  # from scratch for each test
    return StripeBackend("sk_test_localstripe", api_base=localstripe_url, webhook_secret=SECRET, max_network_retries=0)


def test_customer_is_ensured_once(backend: StripeBackend, localstripe_url: str) -> None:
    first = backend.ensure_customer(partner_id="ptn_1", name="Outlet", email="billing@outlet.example", currency="GBP")
    again = backend.ensure_customer(partner_id="ptn_1", name="Outlet", email="billing@outlet.example", currency="GBP")
    assert first == again
    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe_url})
    found = list(client.v1.customers.list(params={"email": "billing@outlet.example"}).auto_paging_iter())
    # localstripe ignores idempotency keys, so only the lookup by e-mail and metadata prevents a duplicate
    assert [c.id for c in found] == [first]


def test_card_decline_raises_card_error_and_maps_to_payment_declined(localstripe_url: str) -> None:
    client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe_url}, max_network_retries=0)
    customer = client.v1.customers.create(params={"email": "decline@outlet.example"})
    card = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4000000000000341", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    client.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    with pytest.raises(PaymentDeclined) as info:
        with _translated():
            client.v1.payment_intents.create(params={"amount": 5000, "currency": "gbp", "customer": customer.id,
                                                     "payment_method": card.id, "confirm": True})
    assert isinstance(info.value.__cause__, stripe.CardError)
    assert info.value.code == "card_declined"


def test_webhook_delivered_by_localstripe_verifies(backend: StripeBackend, localstripe_url: str) -> None:
    received: list[tuple[bytes, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = httpx.post(f"{localstripe_url}/_config/webhooks/syndicate", data={
            "url": f"http://127.0.0.1:{server.server_address[1]}/", "secret": SECRET, "events[]": "customer.created"})
        assert hook.status_code == 200, hook.text
        customer_id = backend.ensure_customer(partner_id="ptn_9", name="Hooked", email="hook@outlet.example",
                                              currency="GBP")
        # events of customers made by earlier tests may still be in flight: wait for ours
        _wait(lambda: any(customer_id.encode() in raw for raw, _ in received))
    finally:
        server.shutdown()
        server.server_close()
    body, signature = next((raw, sig) for raw, sig in received if customer_id.encode() in raw)
    event = backend.verify_webhook(body, signature)
    assert event.type == "customer.created" and event.object["id"] == customer_id
    with pytest.raises(BadWebhookSignature):
        backend.verify_webhook(body.replace(b"Hooked", b"Hacked"), signature)
