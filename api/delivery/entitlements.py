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

from api.delivery import caps, quotas, render
from api.delivery.errors import LicenceNotActive
from api.delivery.feeds import FEED_TYPES
from api.delivery.snapshots import LicenceView, licence_views
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


def _usable(view: LicenceView, now: datetime) -> tuple[bool, str | None]:
    try:
        view.check_usable(now.timestamp())
    except LicenceNotActive as exc:
        return False, exc.detail
    return True, None


def entitlements(session: Session, licences: list[Licence], *, now: datetime) -> list[Entitlement]:
    """The standing of each licence, in a handful of queries whatever the number of licences."""
    views = licence_views(session, licences, now=now)
    standings = quotas.quota_standings(session, views, now=now)
    live = caps.live_by_licence(session, licences)
    found = []
    for licence, view in zip(licences, views, strict=True):
        usable, reason = _usable(view, now)
        found.append(Entitlement(licence=licence, usable=usable, unusable_reason=reason, formats=list(render.FORMATS),
                                 feed_formats=list(FEED_TYPES), quota=standings[licence.id], live=live[licence.id]))
    return found


def list_entitlements(session: Session, *, partner_id: str, state: licensing.LicenceState | None = None,
                      cursor: str | None = None, limit: int = 20,
                      now: datetime | None = None) -> tuple[list[Entitlement], str | None]:
    """The partner's licences (newest first, keyset pages, as `GET /v1/licences`), each with its standing."""
    now = now or datetime.fromtimestamp(time.time(), UTC)
    rows, next_cursor = licensing.list_licences(session, partner_id=partner_id, state=state, cursor=cursor, limit=limit)
    return entitlements(session, list(rows), now=now), next_cursor
