"""Operations pages: reconcile (finance), outbox with retry and partner webhooks in trouble (licensing, like the staff API)."""

from __future__ import annotations

import socket
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from api.app import create_app
from api.core.config import configure_worker
from api.core.db import utcnow
from api.delivery.models import WebhookDelivery, WebhookEndpoint
from api.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.billing.conftest import stripe_double  # noqa: F401 - the fixture
from tests.builders import make_partner
from tests.conftest import make_settings
from tests.console.helpers import csrf_in, log_in
from tests.delivery.conftest import bearer, licensed, mint  # noqa: F401 - the delivery fixture

FAILING = "test.console-failing"  # a topic whose handler always fails, with the error its payload names


@pytest.mark.parametrize("path, allowed", [("/console/operations/reconcile", {"finance", "admin"}),
                                           ("/console/operations/outbox", {"admin"}),
                                           ("/console/operations/webhooks", {"licensing", "admin"})])
@pytest.mark.parametrize("role", ["admin", "finance", "licensing", "editor"])
def test_pages_by_role(console, session, path, allowed, role):
    log_in(console, session, roles=[role])
    assert console.get(path).status_code == (200 if role in allowed else 403)


@outbox.handler(FAILING)
def _failing(session, payload) -> None:
    raise ConnectionError(payload["error"])


def _queued(session, dedupe_key: str) -> OutboxMessage:
    return session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).one()


def _attempt(session, engine, message_id: str, times: int) -> None:
    """Run the worker on the message `times` times, each retry made due at once rather than waited for."""
    for _ in range(times):
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(next_attempt_at=utcnow()))
        session.commit()
        outbox.drain(engine, topics={FAILING, "email.send"})


def _failed(session, engine, key: str, *, failures: int, max_attempts: int) -> OutboxMessage:
    """A message of the failing topic, tried `failures` times by the worker."""
    outbox.enqueue(session, FAILING, {"error": f"error of the {key} one"}, dedupe_key=f"failing:{key}",
                   max_attempts=max_attempts)
    session.commit()
    message = _queued(session, f"failing:{key}")
    _attempt(session, engine, message.id, failures)
    session.expire_all()
    return message


def test_a_dead_message_is_shown_in_words_and_retried_with_the_button(console, session, engine, settings):
    with socket.socket() as closed:  # a port nothing listens on: the SMTP server is down
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    before = configure_worker(settings.model_copy(update={"email_sender": "smtp", "smtp_host": "127.0.0.1",
                                                          "smtp_port": port, "smtp_timeout_seconds": 2}))
    try:
        outbox.enqueue(session, "email.send", {"to": ["desk@outlet.example"], "subject": "x", "body": "y"},
                       dedupe_key="email:test-dead", max_attempts=2)
        session.commit()
        message = _queued(session, "email:test-dead")
        _attempt(session, engine, message.id, 2)
    finally:
        configure_worker(before)
    session.expire_all()
    assert session.get(OutboxMessage, message.id).status == "dead"
    log_in(console, session, roles=["admin"])
    page = console.get("/console/operations/outbox")
    assert "E-mail" in page.text and "ConnectionRefusedError" in page.text and "2 of 2" in page.text
    retried = console.post(f"/console/operations/outbox/{message.id}/retry", data={"csrf_token": csrf_in(page.text)},
                           follow_redirects=False)
    assert retried.status_code == 303
    session.expire_all()
    assert session.get(OutboxMessage, message.id).status == "pending"
    again = console.post("/console/operations/outbox/obx_missing/retry", data={"csrf_token": csrf_in(page.text)})
    assert again.status_code == 404


def test_failing_and_removed_endpoints_are_listed_with_their_last_error(console, session):
    partner = make_partner(session, name="Outlet Gazette")
    failing = WebhookEndpoint(partner_id=partner.id, url="https://cms.outlet.example/hooks", secret_encrypted="x")
    removed = WebhookEndpoint(partner_id=partner.id, url="https://old.outlet.example/hooks", secret_encrypted="x",
                              deleted_at=utcnow())
    healthy = WebhookEndpoint(partner_id=partner.id, url="https://fine.outlet.example/hooks", secret_encrypted="x")
    session.add_all([failing, removed, healthy])
    session.flush()
    session.add(WebhookDelivery(endpoint_id=failing.id, event_key="k1", event_type="article.withdrawn", status="failed",
                                attempts=[{"at": utcnow().isoformat(), "status_code": 500, "error": "HTTP 500"}]))
    session.add(WebhookDelivery(endpoint_id=healthy.id, event_key="k2", event_type="article.corrected",
                                status="succeeded", attempts=[{"at": utcnow().isoformat(), "status_code": 204}]))
    session.commit()
    log_in(console, session, roles=["admin"])
    page = console.get("/console/operations/webhooks").text
    assert "cms.outlet.example" in page and "HTTP 500" in page and "Failing" in page
    assert "old.outlet.example" in page and "Removed by the partner" in page
    assert "fine.outlet.example" not in page
    removed_only = console.get("/console/operations/webhooks?state=removed").text
    assert "old.outlet.example" in removed_only and "cms.outlet.example" not in removed_only
    by_address = console.get("/console/operations/webhooks?text=CMS.outlet").text
    assert "cms.outlet.example" in by_address and "old.outlet.example" not in by_address


def test_reconcile_explains_an_invoice_the_provider_does_not_have(app, session, database_url, stripe_double):  # noqa: F811
    partner = make_partner(session)
    session.add(Invoice(charge_key="licence:test", kind=InvoiceKind.licence, partner_id=partner.id, provider="stripe",
                        provider_invoice_id="in_gone", number="SYN-0001", currency="GBP", status=InvoiceStatus.open,
                        total=15000, amount_due=15000))
    session.commit()
    settings = make_settings(database_url, billing_backend="stripe", stripe_api_key="sk_test_x",
                             stripe_api_base=stripe_double.url, public_base_url="https://testserver")
    with TestClient(create_app(settings, run_worker=False), base_url="https://testserver") as client:
        log_in(client, session, roles=["finance"])
        page = client.get("/console/operations/reconcile")
    assert page.status_code == 200
    assert "SYN-0001" in page.text and "Missing at provider" in page.text and "no such invoice" in page.text


def test_content_is_served_while_the_reconcile_page_waits_on_stripe(
        app, client, session, database_url, stripe_double, licensed):  # noqa: F811
    settings = make_settings(database_url, billing_backend="stripe", stripe_api_key="sk_test_x",
                             stripe_api_base=stripe_double.url, public_base_url="https://testserver")
    reached, release = stripe_double.stall("GET", "/v1/invoices")
    pages: list = []
    with TestClient(create_app(settings, run_worker=False), base_url="https://testserver") as console:
        log_in(console, session, roles=["finance"])
        session.commit()
        asking = threading.Thread(target=lambda: pages.append(console.get("/console/operations/reconcile")))
        asking.start()
        try:
            assert reached.wait(timeout=30), "the page never asked Stripe"
            token = mint(client, licensed)["token"]  # a write, while the page waits on Stripe
            answer = client.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(token))
            assert answer.status_code == 200, answer.text
            assert asking.is_alive()
        finally:
            release.set()
            asking.join(timeout=60)
    assert [page.status_code for page in pages] == [200]


def test_the_outbox_shows_dead_messages_first_and_retrying_ones_on_request(console, session, engine):
    assert _failed(session, engine, "dead", failures=2, max_attempts=2).status == "dead"
    retrying = _failed(session, engine, "retrying", failures=1, max_attempts=5)
    assert (retrying.status, retrying.attempts) == ("pending", 1)
    _failed(session, engine, "waiting", failures=0, max_attempts=5)
    log_in(console, session, roles=["admin"])
    dead = console.get("/console/operations/outbox").text
    assert "error of the dead one" in dead and "error of the retrying one" not in dead
    retrying = console.get("/console/operations/outbox?status=retrying&sort=next").text
    assert "error of the retrying one" in retrying and "error of the dead one" not in retrying
    assert "error of the waiting one" not in retrying and 'aria-sort="ascending"' in retrying
