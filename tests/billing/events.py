"""Webhook events in today's shape, built from Stripe's fixtures and signed exactly as Stripe signs."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from tests.billing.stripe_server import FIXTURES

WEBHOOK_SECRET = "whsec_test_syndicate_0123456789"
_ids = itertools.count(1)


def event(type_: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None) -> dict[str, Any]:
    body = copy.deepcopy(FIXTURES["event"])
    body.update(id=event_id or f"evt_test{next(_ids):08d}_{int(time.time() * 1000)}", type=type_,
                created=created or int(time.time()), api_version="2026-10-28.endive", data={"object": obj})
    return body


def fixture_object(kind: str, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(FIXTURES[kind])
    obj.update(fields)
    return obj


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """`Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">`."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def signed(body: dict[str, Any], **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(body).encode()
    return payload, {"Stripe-Signature": sign(payload, **kwargs), "Content-Type": "application/json"}
