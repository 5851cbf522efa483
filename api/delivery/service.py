"""Delivery rules that touch the database: tokens, feeds, beacons and webhook endpoints.

Session first, keyword-only arguments, flush never commit; the hot path lives in runtime.py.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from api.catalogue.models import Article, ArticleStatus
from api.core.config import Settings
from api.core.db import utcnow
from api.core.pagination import keyset_page
from api.delivery import invalidation, keys as signing_keys, tokens
from api.delivery.errors import CannotMintToken, TokenNotFound, WebhookEndpointNotFound
from api.delivery.models import BeaconSighting, LicenceToken, WebhookDelivery, WebhookEndpoint
from api.delivery.snapshots import LicenceView
from api.delivery.webhook_urls import BadWebhookUrl, check_registration  # noqa: F401 - routes name service.BadWebhookUrl
from api.licensing.grants import get_licence
from api.licensing.models import Licence
from api.licensing.states import LicenceState


# --- tokens --------------------------------------------------------------------------------------

def mint_token(session: Session, settings: Settings, *, licence_id: str, partner_id: str,
               minutes: int | None = None) -> tuple[str, LicenceToken, Licence]:
    licence = get_licence(session, licence_id, partner_id=partner_id)
    if licence.state != LicenceState.active or licence.ends_at <= utcnow():
        raise CannotMintToken(f"Licence {licence.id} is {licence.state}; tokens can only be minted while it is active"
                              f"{' and before it ends' if licence.state == LicenceState.active else ''}.",
                              licence_state=str(licence.state))
    raw, row = tokens.mint(session, settings, licence, minutes=minutes)
    return raw, row, licence


def list_tokens(session: Session, *, licence_id: str, partner_id: str, cursor: str | None, limit: int):
    get_licence(session, licence_id, partner_id=partner_id)
    stmt = select(LicenceToken).where(LicenceToken.licence_id == licence_id)
    return keyset_page(session, stmt, columns=[LicenceToken.issued_at, LicenceToken.jti], kinds=[datetime, str],  # type: ignore[list-item]
                       cursor=cursor, limit=limit, descending=True)


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


# --- feeds ---------------------------------------------------------------------------------------

def feed_page(session: Session, licence: LicenceView, *, updated_since: datetime | None, cursor: str | None,
              limit: int) -> tuple[list[Article], str | None]:
    """What the licence covers, oldest change first, keyed on (updated_at, id). Withdrawn articles stay
    in the listing (status `withdrawn`) so a syncing partner learns to take them down."""
    stmt = select(Article).where(Article.licensable.is_(True))  # type: ignore[attr-defined]
    stmt = stmt.where(Article.status != ArticleStatus.embargoed)
    if licence.scope in ("article", "bundle"):
        stmt = stmt.where(Article.id.in_(sorted(licence.article_ids) or [""]))  # type: ignore[attr-defined]
    elif licence.scope == "section_feed":
        stmt = stmt.where(Article.section == (licence.section or ""))
    if updated_since:
        stmt = stmt.where(Article.updated_at > updated_since)
    return keyset_page(session, stmt, columns=[Article.updated_at, Article.id], kinds=[datetime, str],  # type: ignore[list-item]
                       cursor=cursor, limit=limit)


# --- usage beacons -------------------------------------------------------------------------------

def record_sighting(session: Session, *, licence_id: str, article_id: str, page_url: str) -> None:
    """Count one display of a licensed copy at `page_url` (one row per page, with a hit counter)."""
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(BeaconSighting).values(
        id=BeaconSighting.model_fields["id"].default_factory(),  # type: ignore[misc]
        licence_id=licence_id, article_id=article_id, page_url=page_url[:1000], hits=1,
        first_seen_at=now, last_seen_at=now,
    ).on_conflict_do_update(index_elements=["licence_id", "article_id", "page_url"],
                            set_={"hits": BeaconSighting.hits + 1, "last_seen_at": now})
    session.execute(stmt)
    session.flush()


def sightings(session: Session, *, licence_id: str) -> list[BeaconSighting]:
    return list(session.exec(select(BeaconSighting).where(BeaconSighting.licence_id == licence_id)).all())


# --- webhook endpoints ---------------------------------------------------------------------------

def _check_url(settings: Settings, url: str) -> None:
    check_registration(url, require_https=settings.environment == "production",
                       allow_private=settings.webhook_allow_private_networks)


def create_endpoint(session: Session, settings: Settings, *, partner_id: str, url: str,
                    description: str | None) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its `whsec_` secret, which is shown only this once."""
    _check_url(settings, url)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
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
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner_id, WebhookEndpoint.deleted_at.is_(None))  # type: ignore[union-attr]
    return keyset_page(session, stmt, columns=[WebhookEndpoint.id], kinds=[str], cursor=cursor, limit=limit)  # type: ignore[list-item]


def delete_endpoint(session: Session, *, endpoint_id: str, partner_id: str) -> None:
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    endpoint.deleted_at = utcnow()
    session.add(endpoint)
    session.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,  # type: ignore[arg-type]
                                                  WebhookDelivery.status == "pending").values(status="failed"))
    session.flush()


def list_deliveries(session: Session, *, endpoint_id: str, partner_id: str, cursor: str | None, limit: int):
    get_endpoint(session, endpoint_id=endpoint_id, partner_id=partner_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    return keyset_page(session, stmt, columns=[WebhookDelivery.id], kinds=[str], cursor=cursor, limit=limit,  # type: ignore[list-item]
                       descending=True)
