"""Corrections, takedowns and embargo lifts reach licensees: outbox fan-out to partner webhook endpoints.

Every `article.changed` outbox message (an update, correction or withdrawal from the catalogue
service, an embargo lift from api/catalogue/embargoes.py) becomes `article.<change>`.

One delivery per endpoint and event, each sent by its own outbox message in the endpoint's lane (so
one slow endpoint never holds up the others' deliveries); how an attempt is signed, sent, retried
and recorded is in webhook_send.py. Each event carries `data.version` (the article's version,
increasing with every change) and `data.occurred_at`, so a receiver can order events that arrive
out of order (a retried one after a later one).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, cast, exists, literal_column, or_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col, func, select

from api.catalogue import changes, service as catalogue
from api.catalogue.models import ArticleChange
from api.core.db import new_id, utcnow
from api.delivery.models import Republication, WebhookDelivery, WebhookEndpoint
from api.delivery.snapshots import load_article
from api.core.config import worker_settings
from api.delivery.webhook_send import MAX_ATTEMPTS, SEND_TOPIC
from api.licensing import service as licensing
from api.licensing.models import Licence, LicenceAmendment, ScopeKind
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.partners import notifications

log = logging.getLogger("syndicate.delivery.webhooks")


def lane(endpoint_id: str) -> str:
    """The outbox lane of an endpoint's deliveries: a bounded number in flight at once."""
    return f"webhook:{endpoint_id}"


def _names_article(session: Session, article_id: str) -> ColumnElement[bool]:
    """An article or bundle licence whose `article_ids` list holds the article, tested in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        listed: ColumnElement[bool] = cast(Licence.article_ids, JSONB).op("@>", is_comparison=True)(
            func.jsonb_build_array(article_id))
    else:
        items = func.json_each(Licence.article_ids).table_valued("value")
        listed = exists(select(literal_column("1")).select_from(items).where(items.c.value == article_id))
    return and_(col(Licence.scope).in_([ScopeKind.article, ScopeKind.bundle]), listed)


def licence_holders_statement(session: Session, article_id: str, section: str | None):
    """Partners holding a current licence that covers the article (see `LicenceView.covers`). The
    state index narrows it to current licences; the scope test runs in SQL, never in Python."""
    covers: list[ColumnElement[bool]] = [col(Licence.scope) == ScopeKind.catalogue, _names_article(session, article_id)]
    if section is not None:
        covers.append(and_(col(Licence.scope) == ScopeKind.section_feed, col(Licence.section) == section))
    return (select(Licence.partner_id)
            .where(col(Licence.state).in_([LicenceState.active, LicenceState.suspended]), or_(*covers))
            .distinct())


def readers_statement(article_id: str):
    """Partners who have fetched the article. The first fetch under each licence is its republication
    (one row per licence and article, see metering.py, kept whatever the raw log's retention), so
    their index answers this in as many rows as there were licences that fetched it."""
    return select(Republication.partner_id).where(Republication.article_id == article_id).distinct()


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
    base = worker_settings().public_base_url
    data = {"article_id": article.id, "version": payload["version"], "change": payload["change"],
            "occurred_at": payload.get("occurred_at") or article.updated_at.isoformat(),
            "headline": article.headline, "canonical_url": article.canonical_url,
            "content_url": f"{base}/v1/content/articles/{article.id}", "updated_at": article.updated_at.isoformat()}
    # The event is built after the change committed, so its change-log row is there to name.
    seq = session.exec(select(ArticleChange.seq).where(ArticleChange.article_id == article.id,
                                                       ArticleChange.version == payload["version"])).first()
    if seq is not None:
        data["change_cursor"] = changes.encode(seq)
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


@outbox.handler(notifications.WEBHOOK_TOPIC)
def announce_to_partner(session: Session, payload: dict[str, Any]) -> None:
    """An event about one partner's own business (`licence.cancelled`, ...) to its endpoints."""
    event = {"type": payload["type"], "timestamp": utcnow().isoformat(), "data": payload["data"]}
    deliver(session, {payload["partner_id"]}, event_key=payload["key"], event=event)


@outbox.handler(licensing.AMENDED_WEBHOOK_TOPIC)
def licence_amended(session: Session, payload: dict[str, Any]) -> None:
    """`licence.amended` to the licensee's endpoints: what changed, before and after, and why."""
    amendment = licensing.get_amendment(session, payload["amendment_id"])
    if amendment is None:
        return
    licence = session.get(Licence, amendment.licence_id)
    number = session.exec(select(func.count()).select_from(LicenceAmendment).where(
        LicenceAmendment.licence_id == amendment.licence_id, LicenceAmendment.created_at <= amendment.created_at)).one()
    data = {"licence_id": amendment.licence_id, "amendment_id": amendment.id, "version": number,
            "occurred_at": amendment.created_at.isoformat(), "kind": amendment.kind,
            "before": amendment.before, "after": amendment.after, "reason": amendment.reason,
            "price_difference": amendment.price_difference, "currency": amendment.currency,
            "licence_url": f"{worker_settings().public_base_url}/v1/licences/{amendment.licence_id}",
            "monthly_quota": licence.monthly_quota if licence else None}
    event = {"type": "licence.amended", "timestamp": utcnow().isoformat(), "data": data}
    deliver(session, {amendment.partner_id}, event_key=f"licence.amended:{amendment.id}", event=event)


def deliver(session: Session, partner_ids: set[str], *, event_key: str, event: dict[str, Any]) -> None:
    """One delivery of `event` per live endpoint of these partners; a repeat adds none (unique event key)."""
    endpoints = session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.partner_id).in_(sorted(partner_ids)),
                                                           col(WebhookEndpoint.deleted_at).is_(None))).all()
    for endpoint in endpoints:
        _add_delivery(session, endpoint, event_key=event_key, event=event)


def _add_delivery(session: Session, endpoint: WebhookEndpoint, *, event_key: str, event: dict[str, Any]) -> str | None:
    """The delivery of `event` to one endpoint, queued for sending; None when that event key was already delivered."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    delivery_id = WebhookDelivery.model_fields["id"].get_default(call_default_factory=True)
    result = session.exec(insert(WebhookDelivery).values(
        id=delivery_id, endpoint_id=endpoint.id, event_key=event_key, event_type=event["type"], payload=event,
        status="pending", attempts=[], created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"]))
    if not result.rowcount:
        return None
    enqueue_send(session, delivery_id=delivery_id, endpoint_id=endpoint.id, run=0)
    return delivery_id


def send_test(session: Session, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` ping to one endpoint, signed, sent, retried and recorded like every other delivery."""
    event = {"type": "webhook.test", "timestamp": utcnow().isoformat(),
             "data": {"endpoint_id": endpoint.id, "version": 1, "occurred_at": utcnow().isoformat(),
                      "message": "A test event you asked for; nothing to do."}}
    delivery_id = _add_delivery(session, endpoint, event_key=f"webhook.test:{new_id('test')}", event=event)
    session.flush()
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None  # a fresh key never conflicts
    return delivery


def enqueue_send(session: Session, *, delivery_id: str, endpoint_id: str, run: int | str) -> None:
    """Queue the attempts to deliver one delivery (`run` tells apart a later run, e.g. after re-enabling)."""
    outbox.enqueue(session, SEND_TOPIC, {"delivery_id": delivery_id}, dedupe_key=f"webhook:{delivery_id}:{run}",
                   max_attempts=MAX_ATTEMPTS, lane=lane(endpoint_id))
