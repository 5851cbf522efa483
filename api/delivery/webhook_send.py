"""Sending one webhook attempt, per Standard Webhooks (https://www.standardwebhooks.com).

Headers `webhook-id`, `webhook-timestamp` and `webhook-signature`: `v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` keyed with the base64 part of the endpoint's `whsec_` secret; for a while after
a rotation the old secret signs too, and both signatures go in the header, space-separated.

The outbox sender works in three steps so the POST never runs inside a database transaction:
`prepare` records that an attempt started (so a worker that dies mid-send leaves a trace, reported
as interrupted when the delivery is next picked up), `send` POSTs under one total deadline (connect,
send, and reading the answer: a receiver that trickles bytes cannot hold it longer), and `record`
stores the outcome. Answers follow the spec's status handling: 2xx succeeds; `410 Gone` disables the
endpoint (its deliveries are held until the partner enables it again); `429`/`503` with
`Retry-After` are not retried before it (capped); anything else is retried on the spec's example
schedule, with jitter. The URL is checked against private networks again right before each send.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from api.core.config import Settings, worker_settings
from api.core.db import utcnow
from api.delivery import keys as signing_keys
from api.delivery.models import WebhookDelivery, WebhookEndpoint
from api.delivery.webhook_urls import Target, resolve_for_send
from api.outbox import service as outbox

if TYPE_CHECKING:
    import httpx
from api.delivery.errors import BadWebhookUrl

log = logging.getLogger("syndicate.delivery.webhooks")

SEND_TOPIC = "delivery.webhook_send"
# The waits between attempts in Standard Webhooks' example schedule (the first attempt is immediate):
# ten attempts over about three days.
SCHEDULE = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=5),
            timedelta(hours=10), timedelta(hours=14), timedelta(hours=20), timedelta(hours=24))
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.1  # each wait is moved by up to ±10 %, so endpoints failing together are not retried together
RETRY_AFTER_STATUSES = (429, 503)

def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signing_secrets(settings: Settings, endpoint: WebhookEndpoint) -> list[str]:
    """The endpoint's secret, and the one it replaced while the rotation's overlap lasts."""
    found = [signing_keys.decrypt(settings, "webhook-secret", endpoint.secret_encrypted)]
    if (endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > utcnow()):
        found.append(signing_keys.decrypt(settings, "webhook-secret", endpoint.previous_secret_encrypted))
    return found


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt, with jitter."""
    wait = SCHEDULE[min(attempts, len(SCHEDULE)) - 1]
    return wait * random.uniform(1 - JITTER, 1 + JITTER)


def parse_retry_after(value: str | None, *, cap: timedelta) -> timedelta | None:
    """`Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), capped; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            when: datetime = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        wait = max(when - utcnow(), timedelta())
    return min(wait, cap)


def _close_interrupted(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An attempt still marked as started was cut off: its worker stopped before recording the outcome."""
    if attempts and attempts[-1].get("state") == "started":
        return [*attempts[:-1], {**attempts[-1], "state": "interrupted",
                                 "error": "Interrupted: the worker stopped during this attempt; it was retried."}]
    return attempts


@dataclass(frozen=True)
class WebhookRequest:
    delivery_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    require_https: bool
    allow_private: bool
    deadline: float
    retry_after_cap: timedelta


class AttemptFailed(Exception):
    """A failed attempt, to be retried; `retry_after` is the receiver's "not before" (dispatch honours it)."""

    def __init__(self, attempt: dict[str, Any], retry_after: timedelta | None = None) -> None:
        super().__init__(attempt["error"])
        self.attempt = attempt
        self.retry_after = retry_after


async def _post(target: Target, request: WebhookRequest) -> httpx.Response:
    import httpx  # imported when first used: not needed to start the server

    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    async with httpx.AsyncClient(timeout=request.deadline, follow_redirects=False) as client:
        async with client.stream("POST", target.url, content=request.body, extensions=extensions,
                                 headers={**request.headers, "host": target.host_header}) as response:
            return response  # the body is never read


def _post_within_deadline(target: Target, request: WebhookRequest) -> httpx.Response:
    async def bounded() -> httpx.Response:
        async with asyncio.timeout(request.deadline):
            return await _post(target, request)

    return asyncio.run(bounded())


@outbox.sender(SEND_TOPIC)
class WebhookSend:
    """One attempt: prepare reads, signs and marks the attempt started; send POSTs with no transaction
    open; record stores the outcome."""

    @property
    def timeout(self) -> float:
        return worker_settings().webhook_attempt_timeout_seconds

    @staticmethod
    def retry_delay(attempts: int) -> timedelta:
        return retry_delay(attempts)

    def prepare(self, session: Session, payload: dict[str, Any]) -> WebhookRequest | None:
        delivery = session.get(WebhookDelivery, payload["delivery_id"])
        if delivery is None or delivery.status == "succeeded":
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        attempts = _close_interrupted(delivery.attempts)
        if endpoint is None or endpoint.deleted_at is not None:
            delivery.status, delivery.attempts = "failed", attempts
            session.add(delivery)
            return None
        if endpoint.disabled_at is not None:  # sent when the partner enables the endpoint again
            delivery.status, delivery.attempts = "held", attempts
            session.add(delivery)
            return None
        settings = worker_settings()
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "user-agent": "Syndicate-Webhooks/1",
                   "webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": signature_header(signing_secrets(settings, endpoint), delivery.id, timestamp, body)}
        delivery.status = "pending"  # also when an operator revived its dead outbox message
        delivery.attempts = [*attempts, {"at": utcnow().isoformat(), "status_code": None, "error": None, "state": "started"}]
        session.add(delivery)
        return WebhookRequest(delivery.id, endpoint.url, body, headers, require_https=settings.environment == "production",
                              allow_private=settings.webhook_allow_private_networks,
                              deadline=settings.webhook_attempt_timeout_seconds,
                              retry_after_cap=timedelta(seconds=settings.webhook_retry_after_max_seconds))

    def send(self, request: WebhookRequest) -> dict[str, Any]:
        import httpx  # imported when first used: not needed to start the server

        started = time.perf_counter()
        attempt: dict[str, Any] = {"at": utcnow().isoformat(), "status_code": None, "error": None}
        retry_after = None
        try:
            target = resolve_for_send(request.url, require_https=request.require_https, allow_private=request.allow_private)
            response = _post_within_deadline(target, request)
            attempt["status_code"] = response.status_code
            if not 200 <= response.status_code < 300:
                attempt["error"] = f"HTTP {response.status_code}"
            if response.status_code in RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(response.headers.get("retry-after"), cap=request.retry_after_cap)
                if retry_after is not None:
                    attempt["retry_after_seconds"] = round(retry_after.total_seconds())
        except BadWebhookUrl as exc:
            attempt["error"] = f"Refused: {exc.detail}"[:500]
        except TimeoutError:
            attempt["error"] = f"Timeout: no complete answer within {request.deadline:g} s"
        except (httpx.HTTPError, OSError) as exc:
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
        attempt["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        attempt["state"] = "succeeded" if attempt["error"] is None else "failed"
        if attempt["error"] and attempt["status_code"] != 410:  # 410 is final: nothing to retry
            raise AttemptFailed(attempt, retry_after)
        return attempt

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        delivery = session.get(WebhookDelivery, payload["delivery_id"])
        if delivery is None:
            return
        attempt = outcome.result if outcome.ok else getattr(outcome.error, "attempt", None) or {
            "at": utcnow().isoformat(), "status_code": None, "state": "failed",
            "error": f"{type(outcome.error).__name__}: {outcome.error}"[:500]}
        earlier = delivery.attempts[:-1] if delivery.attempts and delivery.attempts[-1].get("state") == "started" \
            else delivery.attempts
        delivery.attempts = [*earlier, attempt]
        if attempt["status_code"] == 410:
            _disable(session, delivery.endpoint_id)
            delivery.status = "held"
        elif outcome.ok:
            delivery.status, delivery.delivered_at = "succeeded", utcnow()
        elif outcome.final:
            delivery.status = "failed"
            log.warning("webhook %s to %s failed %d times; giving up", delivery.id, outcome.request.url, outcome.attempt)
        session.add(delivery)


def _disable(session: Session, endpoint_id: str) -> None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is not None and endpoint.disabled_at is None:
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = "The endpoint answered 410 Gone."
        session.add(endpoint)
        log.warning("webhook endpoint %s answered 410 Gone: disabled until its partner enables it", endpoint_id)
