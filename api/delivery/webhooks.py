"""Corrections and takedowns reach licensees: outbox fan-out to partner webhook endpoints.

Deliveries follow Standard Webhooks (https://www.standardwebhooks.com): headers `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
with the base64 part of the endpoint's `whsec_` secret. One outbox message per delivery, sent by a
three-step outbox sender so the POST never runs inside a database transaction; every attempt is
recorded on the delivery, and failures are retried with capped exponential backoff for three days
(`outbox.RETRY_WINDOW`, as Stripe does). The URL is checked against private networks again right
before each send (webhook_urls.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import and_, cast, exists, literal_column, or_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, func, select

from api.catalogue import service as catalogue
from api.core.config import Settings, get_settings
from api.core.db import utcnow
from api.delivery import keys as signing_keys
from api.delivery.models import UsageEvent, WebhookDelivery, WebhookEndpoint
from api.delivery.snapshots import load_article
from api.delivery.webhook_urls import BadWebhookUrl, resolve_for_send
from api.licensing import service as licensing
from api.licensing.models import Licence, ScopeKind
from api.licensing.states import LicenceState
from api.outbox import service as outbox

log = logging.getLogger("syndicate.delivery.webhooks")

MAX_ATTEMPTS = outbox.attempts_within(outbox.RETRY_WINDOW)
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


def _names_article(session: Session, article_id: str) -> ColumnElement[bool]:
    """An article or bundle licence whose `article_ids` list holds the article, tested in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        listed: ColumnElement[bool] = cast(Licence.article_ids, JSONB).op("@>", is_comparison=True)(
            func.jsonb_build_array(article_id))
    else:
        items = func.json_each(Licence.article_ids).table_valued("value")
        listed = exists(select(literal_column("1")).select_from(items).where(items.c.value == article_id))
    return and_(Licence.scope.in_([ScopeKind.article, ScopeKind.bundle]), listed)  # type: ignore[attr-defined]


def licence_holders_statement(session: Session, article_id: str, section: str | None):
    """Partners holding a current licence that covers the article (see `LicenceView.covers`). The
    state index narrows it to current licences; the scope test runs in SQL, never in Python."""
    covers = [Licence.scope == ScopeKind.catalogue, _names_article(session, article_id)]
    if section is not None:
        covers.append(and_(Licence.scope == ScopeKind.section_feed, Licence.section == section))
    return (select(Licence.partner_id)
            .where(Licence.state.in_([LicenceState.active, LicenceState.suspended]), or_(*covers))  # type: ignore[attr-defined]
            .distinct())


def readers_statement(article_id: str):
    """Partners who have fetched the article. The first fetch under each licence is the billable
    republication (one row per licence and article, see metering.py), so the partial index on
    billable rows answers this in as many rows as there were licences that fetched it."""
    return (select(UsageEvent.partner_id)
            .where(UsageEvent.article_id == article_id, literal_column("usage_event.billable"))
            .distinct())


def _licensees(session: Session, article_id: str) -> set[str]:
    """Partners to tell about a change: holders of a current licence covering the article, and anyone
    who has already fetched it (a takedown matters most to them)."""
    article = load_article(session, article_id)
    partners: set[str] = set(session.exec(readers_statement(article_id)).all())
    if article.licensable:
        partners.update(session.exec(licence_holders_statement(session, article_id, article.section)).all())
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
    deliver(session, partners, event_key=f"article.{payload['change']}:{payload['article_id']}:{payload['version']}",
            event=event)


@outbox.handler(licensing.AMENDED_WEBHOOK_TOPIC)
def licence_amended(session: Session, payload: dict[str, Any]) -> None:
    """`licence.amended` to the licensee's endpoints: what changed, before and after, and why."""
    amendment = licensing.get_amendment(session, payload["amendment_id"])
    if amendment is None:
        return
    licence = session.get(Licence, amendment.licence_id)
    data = {"licence_id": amendment.licence_id, "amendment_id": amendment.id, "kind": amendment.kind,
            "before": amendment.before, "after": amendment.after, "reason": amendment.reason,
            "price_difference": amendment.price_difference, "currency": amendment.currency,
            "licence_url": f"{_settings().public_base_url}/v1/licences/{amendment.licence_id}",
            "monthly_quota": licence.monthly_quota if licence else None}
    event = {"type": "licence.amended", "timestamp": utcnow().isoformat(), "data": data}
    deliver(session, {amendment.partner_id}, event_key=f"licence.amended:{amendment.id}", event=event)


def deliver(session: Session, partner_ids: set[str], *, event_key: str, event: dict[str, Any]) -> None:
    """One delivery of `event` per live endpoint of these partners; a repeat adds none (unique event key)."""
    endpoints = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.partner_id.in_(sorted(partner_ids)),  # type: ignore[attr-defined]
                                                           WebhookEndpoint.deleted_at.is_(None))).all()  # type: ignore[union-attr]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for endpoint in endpoints:
        delivery_id = WebhookDelivery.model_fields["id"].default_factory()  # type: ignore[misc]
        result = session.execute(insert(WebhookDelivery).values(
            id=delivery_id, endpoint_id=endpoint.id, event_key=event_key, event_type=event["type"], payload=event,
            status="pending", attempts=[], created_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"]))
        if result.rowcount:
            outbox.enqueue(session, SEND_TOPIC, {"delivery_id": delivery_id}, dedupe_key=f"webhook:{delivery_id}:0",
                           max_attempts=MAX_ATTEMPTS)


@dataclass(frozen=True)
class WebhookRequest:
    delivery_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    require_https: bool
    allow_private: bool


class AttemptFailed(Exception):
    def __init__(self, attempt: dict[str, Any]) -> None:
        super().__init__(attempt["error"])
        self.attempt = attempt


@outbox.sender(SEND_TOPIC)
class WebhookSend:
    """One attempt: prepare reads and signs, send POSTs with no transaction open, record stores the attempt."""

    timeout = TIMEOUT_SECONDS

    def prepare(self, session: Session, payload: dict[str, Any]) -> WebhookRequest | None:
        delivery = session.get(WebhookDelivery, payload["delivery_id"])
        if delivery is None or delivery.status == "succeeded":
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None:
            delivery.status = "failed"
            session.add(delivery)
            return None
        if delivery.status != "pending":  # an operator revived its dead outbox message
            delivery.status = "pending"
            session.add(delivery)
        settings = _settings()
        secret = signing_keys.decrypt(settings, "webhook-secret", endpoint.secret_encrypted)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "user-agent": "Syndicate-Webhooks/1",
                   "webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(secret, delivery.id, timestamp, body)}
        return WebhookRequest(delivery.id, endpoint.url, body, headers, require_https=settings.environment == "production",
                              allow_private=settings.webhook_allow_private_networks)

    def send(self, request: WebhookRequest) -> dict[str, Any]:
        started = time.perf_counter()
        attempt: dict[str, Any] = {"at": utcnow().isoformat(), "status_code": None, "error": None}
        try:
            target = resolve_for_send(request.url, require_https=request.require_https, allow_private=request.allow_private)
            extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
            with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
                with client.stream("POST", target.url, content=request.body, extensions=extensions,
                                   headers={**request.headers, "host": target.host_header}) as response:
                    attempt["status_code"] = response.status_code  # the body is never read
            if not 200 <= response.status_code < 300:
                attempt["error"] = f"HTTP {response.status_code}"
        except BadWebhookUrl as exc:
            attempt["error"] = f"Refused: {exc.detail}"[:500]
        except (httpx.HTTPError, OSError) as exc:
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
        attempt["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if attempt["error"]:
            raise AttemptFailed(attempt)
        return attempt

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        delivery = session.get(WebhookDelivery, payload["delivery_id"])
        if delivery is None:
            return
        if outcome.ok:
            attempt = outcome.result
        else:
            attempt = getattr(outcome.error, "attempt", None) or {
                "at": utcnow().isoformat(), "status_code": None, "error": f"{type(outcome.error).__name__}: {outcome.error}"[:500]}
        delivery.attempts = [*delivery.attempts, attempt]
        if outcome.ok:
            delivery.status, delivery.delivered_at = "succeeded", utcnow()
        elif outcome.final:
            delivery.status = "failed"
            log.warning("webhook %s to %s failed %d times; giving up", delivery.id, outcome.request.url, outcome.attempt)
        session.add(delivery)
