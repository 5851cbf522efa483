"""Which partner webhook endpoints are in trouble: deliveries failed or still being retried after a
failed attempt, and endpoints the partner removed (no longer sent anything)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from api.delivery.models import WebhookDelivery, WebhookEndpoint
from api.partners.models import Partner


@dataclass
class EndpointHealth:
    endpoint: WebhookEndpoint
    partner_name: str
    failed: int = 0
    retrying: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.endpoint.deleted_at is not None


def troubled_endpoints(session: Session, *, limit: int = 500) -> list[EndpointHealth]:
    """Endpoints with failed or retrying deliveries (the newest `limit` looked at) and removed ones."""
    undelivered = session.exec(select(WebhookDelivery).where(WebhookDelivery.status != "succeeded")
                               .order_by(col(WebhookDelivery.id).desc()).limit(limit)).all()
    found: dict[str, EndpointHealth] = {}
    endpoints = {e.id: e for e in session.exec(select(WebhookEndpoint).where(
        col(WebhookEndpoint.id).in_({d.endpoint_id for d in undelivered}) | col(WebhookEndpoint.deleted_at).is_not(None))).all()}
    names = dict(session.exec(select(Partner.id, Partner.name).where(
        col(Partner.id).in_({e.partner_id for e in endpoints.values()}))).all()) if endpoints else {}
    for endpoint in endpoints.values():
        found[endpoint.id] = EndpointHealth(endpoint, names.get(endpoint.partner_id, endpoint.partner_id))
    for delivery in undelivered:
        health = found[delivery.endpoint_id]
        if delivery.status == "failed":
            health.failed += 1
        elif delivery.attempts:
            health.retrying += 1
        else:
            continue  # pending, never tried yet: not trouble
        last = delivery.attempts[-1] if delivery.attempts else {}
        at = datetime.fromisoformat(last["at"]) if last.get("at") else None
        if at and (health.last_attempt_at is None or at > health.last_attempt_at):
            health.last_attempt_at, health.last_error = at, last.get("error") or (
                f"HTTP {last['status_code']}" if last.get("status_code") else None)
    return sorted((h for h in found.values() if h.failed or h.retrying or h.disabled),
                  key=lambda h: (h.disabled, -(h.failed + h.retrying), h.partner_name))
