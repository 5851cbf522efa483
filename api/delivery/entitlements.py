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

from api.delivery import caps, quotas, render, usage_log
from api.delivery.errors import LicenceNotActive
from api.delivery.feeds import FEED_TYPES
from api.delivery.snapshots import LicenceView
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


def standings(session: Session, licences: list[Licence], *, now: datetime) -> dict[str, quotas.QuotaStanding]:
    """Each licence's `quotas.QuotaStanding` (the same figures `quota_standing` gives one licence),
    in two queries whatever the number of licences."""
    return {licence_id: standing for licence_id, (_view, standing) in _standings(session, licences, now=now).items()}


def _standings(session: Session, licences: list[Licence], *,
               now: datetime) -> dict[str, tuple[LicenceView, quotas.QuotaStanding]]:
    grants = licensing.quota_grants_by_licence(
        session, [lic.id for lic in licences if lic.monthly_quota is not None], live_at=now)
    start, end = quotas.month_bounds(now)
    used = usage_log.deliveries_by_licence(session, [lic.id for lic in licences], start)
    found = {}
    for licence in licences:
        view = LicenceView.of(licence, grants.get(licence.id, ()))
        found[licence.id] = (view, quotas.QuotaStanding(quota=view.quota_at(now.timestamp()), used=used[licence.id],
                                                        resets_at=end, window=int((end - start).total_seconds())))
    return found


def entitlements(session: Session, licences: list[Licence], *, now: datetime) -> list[Entitlement]:
    """The standing of each licence, in a handful of queries whatever the number of licences."""
    standing = _standings(session, licences, now=now)
    live = caps.live_by_licence(session, licences)
    found = []
    for licence in licences:
        view, quota = standing[licence.id]
        usable, reason = _usable(view, now)
        found.append(Entitlement(licence=licence, usable=usable, unusable_reason=reason, formats=list(render.FORMATS),
                                 feed_formats=list(FEED_TYPES), quota=quota, live=live[licence.id]))
    return found


def list_entitlements(session: Session, *, partner_id: str, state: licensing.LicenceState | None = None,
                      cursor: str | None = None, limit: int = 20,
                      now: datetime | None = None) -> tuple[list[Entitlement], str | None]:
    """The partner's licences (newest first, keyset pages, as `GET /v1/licences`), each with its standing."""
    now = now or datetime.fromtimestamp(time.time(), UTC)
    rows, next_cursor = licensing.list_licences(session, partner_id=partner_id, state=state, cursor=cursor, limit=limit)
    return entitlements(session, list(rows), now=now), next_cursor
