"""A partner's own delivery standing (X-API-Key): entitlements, usage and live copies. Thin: the
services in entitlements.py, usage.py and caps.py do the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.problems import error_responses
from api.deps import CurrentPartner, ReadSessionDep, SettingsDep
from api.delivery import entitlements
from api.delivery.partner_schemas import (
    CapRead, CoverageRead, EntitlementRead, EntitlementsPage, LiveArticleRead, QuotaRead, RateLimitRead,
)
from api.licensing.states import LicenceState

router = APIRouter()
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]


def _entitlement(found: entitlements.Entitlement) -> EntitlementRead:
    licence, quota = found.licence, found.quota
    cap = getattr(licence, "live_cap", None)
    return EntitlementRead(
        licence_id=licence.id, status=licence.state, usable=found.usable, unusable_reason=found.unusable_reason,
        covers=CoverageRead(scope=licence.scope, article_ids=list(licence.article_ids or ()), section=licence.section,
                            uses=[licence.use], territories=list(licence.territories or ()), language=licence.language,
                            translation=licence.translation, formats=found.formats, feed_formats=found.feed_formats,
                            starts_at=licence.starts_at, ends_at=licence.ends_at,
                            conditions=list(licence.conditions or ())),
        quota=QuotaRead(monthly_limit=quota.quota, used=quota.used, left=quota.left, resets_at=quota.resets_at),
        cap=CapRead(max_live_articles=cap, live=len(found.live), left=None if cap is None else max(0, cap - len(found.live))),
        live_articles=[LiveArticleRead.model_validate(c) for c in found.live[:entitlements.caps.LIVE_LISTED]],
    )


@router.get(
    "/v1/partners/me/entitlements", response_model=EntitlementsPage, tags=["partners"],
    summary="What your licences let you fetch now",
    description="Each of your licences (newest first, keyset pages): what it covers, whether its tokens work now, "
                "its monthly quota (used, left, when it resets), its cap on live articles and the articles live "
                "under it; and the request limits. The quota figures are those a content response under the licence "
                "sends as `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.",
    responses=error_responses(Unauthenticated, BadCursor, ValidationFailed),
)
def get_entitlements(partner: CurrentPartner, session: ReadSessionDep, settings: SettingsDep,
                     status: LicenceState | None = None, cursor: Cursor = None,
                     limit: Annotated[int, Query(ge=1, le=50)] = 20) -> EntitlementsPage:
    found, next_cursor = entitlements.list_entitlements(session, partner_id=partner.id, state=status, cursor=cursor,
                                                        limit=limit)
    return EntitlementsPage(items=[_entitlement(e) for e in found], next_cursor=next_cursor,
                            rate_limits=[RateLimitRead(name=p.name, per=p.per, limit=p.limit,
                                                       window_seconds=p.window_seconds)
                                         for p in entitlements.rate_limits(settings)])
