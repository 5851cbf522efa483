"""What a partner may fetch now, licence by licence: coverage, quota standing, rate limits, live copies.

Every figure comes from the module the content path enforces it with (`quotas` for the quota and
the request limits, `caps` for live copies), so this answer and the RateLimit headers of a
content response cannot disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from api.core.config import Settings
from api.delivery import caps, quotas, render
from api.delivery.errors import LicenceNotActive
from api.delivery.feeds import FEED_TYPES
from api.delivery.snapshots import load_licence
from api.licensing import service as licensing
from api.licensing.models import Licence


@dataclass(frozen=True, slots=True)
class Entitlement:
    licence: Licence
    usable: bool  # its tokens give access right now
    unusable_reason: str | None
    formats: list[str]
    feed_formats: list[str]
    quota: quotas.QuotaStanding
    live: list[caps.LiveArticle]


def _usable(licence_id: str, session: Session, now: datetime) -> tuple[bool, str | None]:
    view = load_licence(session, licence_id)
    if view is None:
        return False, "unknown licence"
    try:
        view.check_usable(now.timestamp())
    except LicenceNotActive as exc:
        return False, exc.detail
    return True, None


def entitlement(session: Session, licence: Licence, *, now: datetime) -> Entitlement:
    usable, reason = _usable(licence.id, session, now)
    standing = quotas.quota_standing(session, licence.id, now=now)
    assert standing is not None  # the licence was just read
    return Entitlement(licence=licence, usable=usable, unusable_reason=reason, formats=list(render.FORMATS),
                       feed_formats=list(FEED_TYPES), quota=standing, live=caps.live_articles(session, licence))


def list_entitlements(session: Session, *, partner_id: str, state: licensing.LicenceState | None = None,
                      cursor: str | None = None, limit: int = 20,
                      now: datetime | None = None) -> tuple[list[Entitlement], str | None]:
    """The partner's licences (newest first, keyset pages, as `GET /v1/licences`), each with its standing."""
    now = now or datetime.fromtimestamp(time.time(), UTC)
    rows, next_cursor = licensing.list_licences(session, partner_id=partner_id, state=state, cursor=cursor, limit=limit)
    return [entitlement(session, licence, now=now) for licence in rows], next_cursor


def rate_limits(settings: Settings) -> list[quotas.RatePolicy]:
    return quotas.rate_policies(settings)
