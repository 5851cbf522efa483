"""Webhook endpoints, fan-out of corrections and takedowns, Standard Webhooks signatures, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.core.db import session_scope, utcnow
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.builders import TEST_ACTOR, make_api_key, make_partner
import api.jobs  # noqa: F401  - registers the outbox handlers


class Receiver:
    """A real HTTP endpoint that answers with the queued status codes and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def allow_private_networks(settings, monkeypatch):
    """The receivers listen on 127.0.0.1, which webhooks may reach only when the setting says so."""
    monkeypatch.setattr(settings, "webhook_allow_private_networks", True)
    return settings


@pytest.fixture
def receiver(allow_private_networks):
    created: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        created.append(Receiver(statuses))
        return created[-1]

    yield make
    for r in created:
        r.server.shutdown()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Independent Standard Webhooks check: HMAC-SHA256 over "id.timestamp.body" with the decoded secret."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1)[1] == expected for sig in headers["webhook-signature"].split(" ") if sig.startswith("v1,"))


def _drain_everything_due(engine) -> None:
    """Run the worker until nothing is due; retries are made due at once instead of waiting."""
    for _ in range(10):
        with session_scope(engine) as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending").values(next_attempt_at=utcnow()))
        if not outbox.drain(engine):
            return


def test_endpoint_secret_is_shown_once_and_endpoints_are_private(client, session, licensed):
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers,
                          json={"url": "https://cms.outlet.example/hooks", "description": "CMS"})
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = client.get("/v1/webhook-endpoints", headers=licensed.key_headers).json()["items"]
    assert [e["id"] for e in listed] == [created.json()["id"]] and "secret" not in listed[0]
    other_key = make_api_key(session, make_partner(session))
    session.commit()
    assert client.get("/v1/webhook-endpoints", headers={"X-API-Key": other_key}).json()["items"] == []
    assert client.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers={"X-API-Key": other_key}).status_code == 404
    assert client.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers=licensed.key_headers).status_code == 204
    assert client.get("/v1/webhook-endpoints", headers=licensed.key_headers).json()["items"] == []
    bad = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": "ftp://x.example/"})
    assert bad.status_code == 422


def test_correction_and_takedown_are_delivered_signed_and_retried(client, session, engine, licensed, receiver):
    hook = receiver([500, 503])  # the first two attempts fail
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url}).json()
    article = licensed.articles[0]
    catalogue.update_article(session, article.id, ArticleUpdate(headline="Corrected", correction_note="Name spelling"),
                             actor=TEST_ACTOR)
    session.commit()
    _drain_everything_due(engine)
    catalogue.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    _drain_everything_due(engine)

    assert len(hook.received) == 4  # two failures, then the correction, then the takedown
    for headers, body in hook.received:
        assert _verify(created["secret"], headers, body)
        assert headers["webhook-id"].startswith("msg_") and headers["webhook-timestamp"].isdigit()
    events = [json.loads(body) for _h, body in hook.received]
    assert [e["type"] for e in events] == ["article.corrected"] * 3 + ["article.withdrawn"]
    assert events[0]["data"]["correction_note"] == "Name spelling" and events[-1]["data"]["reason"] == "Legal"
    assert len({h["webhook-id"] for h, _b in hook.received[:3]}) == 1  # retries keep the message id

    deliveries = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=licensed.key_headers).json()["items"]
    by_type = {d["event_type"]: d for d in deliveries}
    assert by_type["article.corrected"]["status"] == "succeeded"
    assert [a["status_code"] for a in by_type["article.corrected"]["attempts"]] == [500, 503, 204]
    assert [a["status_code"] for a in by_type["article.withdrawn"]["attempts"]] == [204]


def test_fan_out_reaches_only_partners_concerned_and_runs_once(client, session, engine, licensed, receiver):
    ours, theirs = receiver([]), receiver([])
    client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": ours.url})
    stranger_key = make_api_key(session, make_partner(session))
    session.commit()
    client.post("/v1/webhook-endpoints", headers={"X-API-Key": stranger_key}, json={"url": theirs.url})
    catalogue.withdraw_article(session, licensed.articles[1].id, reason="Takedown", actor=TEST_ACTOR)
    session.commit()
    payload = dict(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "article.changed")).one().payload)
    session.commit()  # end the read (SQLite: every transaction takes the write lock)
    from api.delivery.webhooks import fan_out

    with session_scope(engine) as again:  # a redelivered fan-out creates nothing new
        fan_out(again, payload)
    _drain_everything_due(engine)
    assert len(ours.received) == 1 and theirs.received == []


def test_endpoint_that_never_answers_ends_failed_after_max_attempts(client, session, engine, licensed, receiver):
    from api.delivery import webhooks

    hook = receiver([500] * webhooks.MAX_ATTEMPTS)
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url}).json()
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Gone", actor=TEST_ACTOR)
    session.commit()
    for _ in range(3):
        _drain_everything_due(engine)
    [delivery] = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=licensed.key_headers).json()["items"]
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == webhooks.MAX_ATTEMPTS
