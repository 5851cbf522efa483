"""A partner's own delivery standing (X-API-Key): entitlements, usage and live copies. Thin: the
services in entitlements.py, usage.py and caps.py do the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit.service import Actor
from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import error_responses
from api.delivery import caps, entitlements, quotas
from api.invoicing import partner_usage
from api.delivery.errors import CopyNotLive
from api.delivery.partner_schemas import (
    CapRead,
    CoverageRead,
    EntitlementRead,
    EntitlementsPage,
    LiveArticleRead,
    QuotaRead,
    RateLimitRead,
    RetiredCopyRead,
    UsagePage,
    UsageRead,
)
from api.invoicing.partner_usage import UsageKind
from api.deps import CurrentPartner, ReadSessionDep, SessionDep, SettingsDep
from api.invoicing.errors import InvoiceLineNotFound
from api.licensing.errors import LicenceNotFound
from api.licensing.states import LicenceState

router = APIRouter()
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]


def _cap(cap: int | None, live: int) -> CapRead:
    return CapRead(max_live_articles=cap, live=live, left=None if cap is None else max(0, cap - live))


def _entitlement(found: entitlements.Entitlement) -> EntitlementRead:
    licence, quota = found.licence, found.quota
    cap = licence.max_live_articles
    return EntitlementRead(
        licence_id=licence.id, status=licence.state, usable=found.usable, unusable_reason=found.unusable_reason,
        covers=CoverageRead(scope=licence.scope, article_ids=list(licence.article_ids or ()), section=licence.section,
                            uses=[licence.use], territories=list(licence.territories or ()), language=licence.language,
                            translation=licence.translation, formats=found.formats, feed_formats=found.feed_formats,
                            starts_at=licence.starts_at, ends_at=licence.ends_at,
                            conditions=list(licence.conditions or ())),
        quota=QuotaRead(monthly_limit=quota.quota, used=quota.used, left=quota.left, resets_at=quota.resets_at),
        cap=_cap(cap, len(found.live)),
        live_articles=[LiveArticleRead.model_validate(c) for c in found.live[:caps.LIVE_LISTED]],
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
                                         for p in quotas.rate_policies(settings)])


@router.get(
    "/v1/usage", response_model=UsagePage, tags=["partners"], summary="Your metered deliveries",
    description="Every delivery recorded under your licences, newest first, in keyset pages. Filter by licence, "
                "article, calendar month (UTC) and kind (`republication`: the first delivery of an article under a "
                "licence, what usage billing counts; `refetch`: later ones). `invoice_line` lists exactly the "
                "deliveries a usage line of one of your invoices bills: as many as its `quantity`.",
    responses=error_responses(Unauthenticated, InvoiceLineNotFound, BadCursor, ValidationFailed),
)
def list_usage(
    partner: CurrentPartner, session: ReadSessionDep,
    licence_id: Annotated[str | None, Query(alias="licence", max_length=40, description="A licence id.")] = None,
    article_id: Annotated[str | None, Query(alias="article", max_length=40, description="An article id.")] = None,
    month: Annotated[str | None, Query(pattern=r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$",
                                                      description="YYYY-MM (UTC), 1970-01 to 2099-12.")] = None,
    kind: UsageKind | None = None,
    invoice_line: Annotated[str | None, Query(max_length=40, description="An invoice line id (`usage_url`).")] = None,
    cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> UsagePage:
    rows, next_cursor = partner_usage.list_usage(session, partner_id=partner.id, licence_id=licence_id,
                                             article_id=article_id, month=month, kind=kind,
                                             invoice_line_id=invoice_line, cursor=cursor, limit=limit)
    return UsagePage(items=[UsageRead(id=event.id, at=event.at, licence_id=event.licence_id, article_id=event.article_id,
                                      headline=headline, article_version=event.article_version, format=event.format,
                                      kind=UsageKind.republication if event.billable else UsageKind.refetch,
                                      token_id=event.token_id)
                            for event, headline in rows], next_cursor=next_cursor)


@router.post(
    "/v1/licences/{licence_id}/copies/{article_id}/retire", response_model=RetiredCopyRead, tags=["licences"],
    summary="Retire a copy you no longer show",
    description="The article stops being live under the licence: under a cap on live articles its slot is free at "
                "once, in every API process, so a new article can be fetched. Audited. Fetching the article again "
                "makes it live again (taking a slot). Retiring a retired copy changes nothing.",
    responses=error_responses(Unauthenticated, LicenceNotFound, CopyNotLive),
)
def retire_copy(licence_id: str, article_id: str, partner: CurrentPartner, session: SessionDep) -> RetiredCopyRead:
    row = caps.retire(session, licence_id=licence_id, article_id=article_id, partner_id=partner.id,
                      actor=Actor("partner", partner.id))
    live, cap = caps.live_count(session, licence_id)
    return RetiredCopyRead(licence_id=row.licence_id, article_id=row.article_id, live_since=row.live_since,
                           retired_at=row.retired_at, cap=_cap(cap, live))
