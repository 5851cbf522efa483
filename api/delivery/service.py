"""Delivery rules that touch the database: tokens, feeds and webhook endpoints (beacons: api/tracking).

Session first, keyword-only arguments, flush never commit; the hot path lives in runtime.py.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api.catalogue.models import Article
from api.catalogue.visibility import out_of_embargo_clause
from api.audit.service import Actor
from api.core.config import Settings
from api.core.db import utcnow
from api.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor, keyset_page
from api.delivery import invalidation, keys as signing_keys, tokens, webhooks
from api.delivery.errors import (CannotMintToken, ContentArticleNotFound, TokenNotFound, WebhookDeliveryInProgress, WebhookDeliveryNotFound,
                                 WebhookEndpointDisabled, WebhookEndpointNotFound)
from api.delivery.models import LicenceToken, SigningKey, WebhookDelivery, WebhookEndpoint
from api.delivery.snapshots import ArticleView, LicenceView, ViewCache, load_article, load_licence
from api.delivery.webhook_urls import check_registration
from api.licensing.service import get_licence
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.tracking import still_live

if TYPE_CHECKING:
    from api.delivery.runtime import DeliveryRuntime


# --- tokens --------------------------------------------------------------------------------------

def mint_token(session: Session, settings: Settings, *, licence_id: str, partner_id: str,
               minutes: int | None = None) -> tuple[str, LicenceToken, Licence]:
    licence = get_licence(session, licence_id, partner_id=partner_id)
    if licence.state != LicenceState.active or licence.ends_at <= utcnow():
        raise CannotMintToken(f"Licence {licence.id} is {licence.state}; tokens can only be minted while it is active"
                              f"{' and before it ends' if licence.state == LicenceState.active else ''}.",
                              licence_status=str(licence.state))
    raw, row = tokens.mint(session, settings, licence, minutes=minutes)
    return raw, row, licence


def list_tokens(session: Session, *, licence_id: str, partner_id: str, cursor: str | None, limit: int):
    get_licence(session, licence_id, partner_id=partner_id)
    stmt = select(LicenceToken).where(LicenceToken.licence_id == licence_id)
    return keyset_page(session, stmt, columns=[col(LicenceToken.issued_at), col(LicenceToken.jti)], kinds=[datetime, str],
                       cursor=cursor, limit=limit, descending=True)


def recent_tokens(session: Session, *, licence_ids: list[str], partner_id: str, limit: int) -> dict[str, list[LicenceToken]]:
    """The `limit` newest tokens of each of the partner's licences among `licence_ids` (newest first),
    in one query: what a page listing many licences shows of each."""
    found: dict[str, list[LicenceToken]] = {licence_id: [] for licence_id in licence_ids}
    if not licence_ids:
        return found
    rank = func.row_number().over(partition_by=col(LicenceToken.licence_id),
                                  order_by=(col(LicenceToken.issued_at).desc(), col(LicenceToken.jti).desc())).label("rank")
    ranked = (select(col(LicenceToken.jti), rank)
              .join(Licence, col(Licence.id) == col(LicenceToken.licence_id))
              .where(col(LicenceToken.licence_id).in_(licence_ids), col(Licence.partner_id) == partner_id).subquery())
    stmt = (select(LicenceToken).join(ranked, ranked.c.jti == col(LicenceToken.jti)).where(ranked.c.rank <= limit)
            .order_by(col(LicenceToken.issued_at).desc(), col(LicenceToken.jti).desc()))
    for token in session.exec(stmt).all():
        found[token.licence_id].append(token)
    return found


def revoke_token(session: Session, *, licence_id: str, partner_id: str, jti: str) -> LicenceToken:
    get_licence(session, licence_id, partner_id=partner_id)
    row = session.get(LicenceToken, jti)
    if row is None or row.licence_id != licence_id:
        raise TokenNotFound(f"No token {jti} under licence {licence_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        invalidation.bump(session, "token")
    return row


def rotate_keys(session: Session, settings: Settings) -> str:
    return signing_keys.rotate(session, settings).kid


def retire_key(session: Session, settings: Settings, *, kid: str, actor: Actor) -> SigningKey:
    return signing_keys.retire(session, settings, kid, actor=actor)


# --- beacons -------------------------------------------------------------------------------------

def _cached(cache: ViewCache, session: Session, key: str, load: Callable[[Session, str], Any]) -> Any:
    """The cache's view, else one loaded and stored under the epoch read before the load (so a change
    committed during it wins)."""
    view = cache.get(key)
    if view is None:
        epoch = cache.epoch
        view = load(session, key)
        if view is not None:
            cache.store(key, view, epoch)
    return view


def _article_or_none(session: Session, article_id: str) -> ArticleView | None:
    try:
        return load_article(session, article_id)
    except ContentArticleNotFound:
        return None


def copy_kill(session: Session, runtime: DeliveryRuntime, *, licence_id: str, article_id: str,
              now: datetime) -> still_live.Kill | None:
    """Whether a beacon's copy was killed, from the runtime's cached views (kept fresh on every
    change); None for a licence or article that does not exist."""
    licence = _cached(runtime.licences, session, licence_id, load_licence)
    article = _cached(runtime.articles, session, article_id, _article_or_none)
    if licence is None or article is None:
        return None
    return still_live.kill_of(licence_state=licence.state, licence_ends_at=licence.ends_at,
                              article_status=article.status, now=now)


# --- feeds ---------------------------------------------------------------------------------------

def visible(stmt, now: datetime):
    """Licensable and out of any embargo (`visibility.out_of_embargo_clause`); withdrawn articles
    stay: the feed announces their takedown."""
    stmt = stmt.where(Article.licensable.is_(True))  # type: ignore[attr-defined]
    return stmt.where(out_of_embargo_clause(now))


def feed_page(session: Session, licence: LicenceView, *, updated_since: datetime | None, cursor: str | None,
              limit: int) -> tuple[list[Article], str | None]:
    """What the licence covers, oldest change first, keyed on (updated_at, id). Withdrawn articles stay
    in the listing (status `withdrawn`) so a syncing partner learns to take them down.

    Catalogue and section feeds walk an index in (updated_at, id) order (`ix_article_sync`,
    `ix_article_section_sync`), so page N costs what page 1 does. An article or bundle licence lists
    at most a thousand ids: those are looked up by key and ordered here, so no query sorts."""
    now = utcnow()
    if licence.scope in ("article", "bundle"):
        return _listed_page(session, sorted(licence.article_ids), now=now, updated_since=updated_since,
                            cursor=cursor, limit=limit)
    stmt = visible(select(Article), now)
    if licence.scope == "section_feed":
        stmt = stmt.where(Article.section == (licence.section or ""))
    if updated_since:
        stmt = stmt.where(Article.updated_at > updated_since)
    return keyset_page(session, stmt, columns=[col(Article.updated_at), col(Article.id)], kinds=[datetime, str],
                       cursor=cursor, limit=limit)


def listed_keys_statement(ids: list[str], *, now: datetime, updated_since: datetime | None):
    stmt = visible(select(col(Article.updated_at), col(Article.id)).where(col(Article.id).in_(ids or [""])), now)
    return stmt.where(Article.updated_at > updated_since) if updated_since else stmt


def _listed_page(session: Session, ids: list[str], *, now: datetime, updated_since: datetime | None,
                 cursor: str | None, limit: int) -> tuple[list[Article], str | None]:
    limit = max(1, min(limit, MAX_LIMIT))
    keys = sorted(tuple(row) for row in session.exec(listed_keys_statement(ids, now=now, updated_since=updated_since)).all())
    if cursor:
        after = tuple(decode_cursor(cursor, [datetime, str]))
        keys = [k for k in keys if k > after]
    page = keys[:limit]
    rows = {a.id: a for a in session.exec(select(Article).where(col(Article.id).in_([k[1] for k in page] or [""]))).all()}
    next_cursor = encode_cursor(list(page[-1])) if len(keys) > limit else None
    return [rows[k[1]] for k in page if k[1] in rows], next_cursor


# --- webhook endpoints ---------------------------------------------------------------------------

def _check_url(settings: Settings, url: str) -> None:
    check_registration(url, require_https=settings.environment == "production",
                       allow_private=settings.webhook_allow_private_networks)


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_endpoint(session: Session, settings: Settings, *, partner_id: str, url: str,
                    description: str | None) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its `whsec_` secret, which is shown only this once."""
    _check_url(settings, url)
    secret = _new_secret()
    endpoint = WebhookEndpoint(partner_id=partner_id, url=url, description=description,
                               secret_encrypted=signing_keys.encrypt(settings, "webhook-secret", secret))
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def get_endpoint(session: Session, *, endpoint_id: str, partner_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.partner_id != partner_id or endpoint.deleted_at is not None:
        raise WebhookEndpointNotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


def list_endpoints(session: Session, *, partner_id: str, cursor: str | None, limit: int):
    stmt = select(WebhookEndpoint).where(col(WebhookEndpoint.partner_id) == partner_id, col(WebhookEndpoint.deleted_at).is_(None))
    return keyset_page(session, stmt, columns=[col(WebhookEndpoint.id)], kinds=[str], cursor=cursor, limit=limit)


def list_all_endpoints(session: Session, *, status: str | None, partner_id: str | None, cursor: str | None,
                       limit: int):
    """Staff: every partner's endpoints (not deleted), newest first."""
    stmt = select(WebhookEndpoint).where(col(WebhookEndpoint.deleted_at).is_(None))
    if status == "disabled":
        stmt = stmt.where(col(WebhookEndpoint.disabled_at).is_not(None))
    elif status == "enabled":
        stmt = stmt.where(col(WebhookEndpoint.disabled_at).is_(None))
    if partner_id is not None:
        stmt = stmt.where(WebhookEndpoint.partner_id == partner_id)
    return keyset_page(session, stmt, columns=[col(WebhookEndpoint.id)], kinds=[str], cursor=cursor, limit=limit,
                       descending=True)


def delete_endpoint(session: Session, *, endpoint_id: str, partner_id: str) -> None:
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    endpoint.deleted_at = utcnow()
    session.add(endpoint)
    session.execute(update(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id,
                                                  col(WebhookDelivery.status).in_(["pending", "held"]))
                    .values(status="failed"))
    session.flush()


def rotate_secret(session: Session, settings: Settings, *, endpoint_id: str, partner_id: str) -> tuple[WebhookEndpoint, str]:
    """A new `whsec_` secret (shown only this once). The old one keeps signing too, as a second
    signature, for `webhook_secret_overlap_hours`, so the partner can switch without missing a delivery."""
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    secret = _new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = utcnow() + timedelta(hours=settings.webhook_secret_overlap_hours)
    endpoint.secret_encrypted = signing_keys.encrypt(settings, "webhook-secret", secret)
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def enable_endpoint(session: Session, *, endpoint_id: str, partner_id: str) -> WebhookEndpoint:
    """Deliver again to an endpoint disabled by a `410 Gone`; the deliveries held meanwhile are sent."""
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    if endpoint.disabled_at is None:
        return endpoint
    run = f"enabled-{endpoint.disabled_at.isoformat()}"
    endpoint.disabled_at, endpoint.disabled_reason = None, None
    session.add(endpoint)
    held = session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                      WebhookDelivery.status == "held")).all()
    for delivery in held:
        delivery.status = "pending"
        session.add(delivery)
        webhooks.enqueue_send(session, delivery_id=delivery.id, endpoint_id=endpoint.id, run=run)
    session.flush()
    return endpoint


def _enabled_endpoint(session: Session, *, endpoint_id: str, partner_id: str) -> WebhookEndpoint:
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    if endpoint.disabled_at is not None:
        raise WebhookEndpointDisabled(f"Endpoint {endpoint.id} is disabled ({endpoint.disabled_reason or 'answered 410'}); "
                                      "nothing is sent to it until you enable it again (POST .../enable).")
    return endpoint


def send_test_event(session: Session, *, endpoint_id: str, partner_id: str) -> WebhookDelivery:
    """Queue a `webhook.test` ping to one enabled endpoint through the normal signed delivery."""
    return webhooks.send_test(session, _enabled_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id))


def resend_delivery(session: Session, *, endpoint_id: str, delivery_id: str, partner_id: str) -> WebhookDelivery:
    """Send a finished delivery (succeeded or given up) once more, with the same `webhook-id` so a
    receiver that already has it can tell; its earlier attempts are kept."""
    endpoint = _enabled_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise WebhookDeliveryNotFound(f"No delivery {delivery_id} to endpoint {endpoint.id}.")
    if delivery.status == "pending":
        raise WebhookDeliveryInProgress(f"Delivery {delivery.id} is still being tried; wait for it to succeed or fail.")
    delivery.status, delivery.delivered_at = "pending", None
    session.add(delivery)
    webhooks.enqueue_send(session, delivery_id=delivery.id, endpoint_id=endpoint.id,
                          run=f"resend-{len(delivery.attempts)}")
    session.flush()
    return delivery


def list_deliveries(session: Session, *, endpoint_id: str, partner_id: str, cursor: str | None, limit: int):
    get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    return keyset_page(session, stmt, columns=[col(WebhookDelivery.id)], kinds=[str], cursor=cursor, limit=limit,
                       descending=True)
