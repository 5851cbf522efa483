"""Corrections and takedowns reach licensees: outbox fan-out to partner webhook endpoints.

Deliveries follow Standard Webhooks (https://www.standardwebhooks.com): headers `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
with the base64 part of the endpoint's `whsec_` secret. Each attempt is recorded on the delivery;
a failed attempt schedules the next one through the outbox with exponential backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from api.catalogue import service as catalogue
from api.core.config import Settings, get_settings
from api.core.db import utcnow
from api.delivery import keys as signing_keys
from api.delivery.models import UsageEvent, WebhookDelivery, WebhookEndpoint
from api.delivery.snapshots import LicenceView, load_article
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox

log = logging.getLogger("syndicate.delivery.webhooks")

MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 5.0
SEND_TOPIC = "delivery.webhook_send"

_configured: Settings | None = None


def configure(settings: Settings) -> None:
    """The API process's settings (the worker process reads them from the environment)."""
    global _configured
    _configured = settings


def _settings() -> Settings:
    return _configured or get_settings()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _licensees(session: Session, article_id: str) -> set[str]:
    """Partners to tell about a change: holders of a current licence covering the article, and anyone
    who has already fetched it (a takedown matters most to them)."""
    article = load_article(session, article_id)
    stmt = select(Licence).where(Licence.state.in_([LicenceState.active, LicenceState.suspended]))  # type: ignore[attr-defined]
    stmt = stmt.where(or_(Licence.scope.in_(["article", "bundle", "catalogue"]),  # type: ignore[attr-defined]
                          Licence.section == article.section))
    partners = {lic.partner_id for lic in session.exec(stmt).all() if LicenceView.of(lic).covers(article)}
    fetched = select(UsageEvent.partner_id).where(UsageEvent.article_id == article_id).distinct()
    partners.update(session.exec(fetched).all())
    return partners


def _event(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    article = catalogue.get_article(session, payload["article_id"])
    base = _settings().public_base_url
    data = {"article_id": article.id, "version": payload["version"], "change": payload["change"],
            "headline": article.headline, "canonical_url": article.canonical_url,
            "content_url": f"{base}/v1/content/articles/{article.id}", "updated_at": article.updated_at.isoformat()}
    if payload["change"] == "withdrawn":
        data["reason"] = article.withdrawal_reason
        data["action_required"] = "Remove every copy of this article you published."
    elif article.correction_note:
        data["correction_note"] = article.correction_note
    return {"type": f"article.{payload['change']}", "timestamp": utcnow().isoformat(), "data": data}


@outbox.handler("article.changed")
def fan_out(session: Session, payload: dict[str, Any]) -> None:
    """One delivery per endpoint of every partner concerned; safe to run twice (unique event key)."""
    partners = _licensees(session, payload["article_id"])
    if not partners:
        return
    event = _event(session, payload)
    key = f"article.{payload['change']}:{payload['article_id']}:{payload['version']}"
    endpoints = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.partner_id.in_(sorted(partners)),  # type: ignore[attr-defined]
                                                           WebhookEndpoint.deleted_at.is_(None))).all()  # type: ignore[union-attr]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for endpoint in endpoints:
        delivery_id = WebhookDelivery.model_fields["id"].default_factory()  # type: ignore[misc]
        result = session.execute(insert(WebhookDelivery).values(
            id=delivery_id, endpoint_id=endpoint.id, event_key=key, event_type=event["type"], payload=event,
            status="pending", attempts=[], created_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"]))
        if result.rowcount:
            outbox.enqueue(session, SEND_TOPIC, {"delivery_id": delivery_id}, dedupe_key=f"webhook:{delivery_id}:0")


@outbox.handler(SEND_TOPIC)
def send(session: Session, payload: dict[str, Any]) -> None:
    """One attempt. Failures are recorded and retried later by a new outbox message, so the attempt
    history survives (an exception would roll it back)."""
    delivery = session.get(WebhookDelivery, payload["delivery_id"])
    if delivery is None or delivery.status != "pending":
        return
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        delivery.status = "failed"
        session.add(delivery)
        return
    secret = signing_keys.decrypt(_settings(), "webhook-secret", endpoint.secret_encrypted)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {"content-type": "application/json", "user-agent": "Syndicate-Webhooks/1",
               "webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(secret, delivery.id, timestamp, body)}
    started = time.perf_counter()
    attempt: dict[str, Any] = {"at": utcnow().isoformat(), "status_code": None, "error": None}
    try:
        response = httpx.post(endpoint.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS, follow_redirects=False)
        attempt["status_code"] = response.status_code
        ok = 200 <= response.status_code < 300
        if not ok:
            attempt["error"] = f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
        ok = False
    attempt["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    delivery.attempts = [*delivery.attempts, attempt]
    number = len(delivery.attempts)
    if ok:
        delivery.status, delivery.delivered_at = "succeeded", utcnow()
    elif number >= MAX_ATTEMPTS:
        delivery.status = "failed"
        log.warning("webhook %s to %s failed %d times; giving up", delivery.id, endpoint.url, number)
    else:
        outbox.enqueue(session, SEND_TOPIC, {"delivery_id": delivery.id}, dedupe_key=f"webhook:{delivery.id}:{number}",
                       delay=outbox.backoff(number))
    session.add(delivery)
