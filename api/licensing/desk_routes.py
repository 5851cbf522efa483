"""The desk's look-before-you-leap operations: preview a rate card edit, dry-run an auto-approval rule."""

from __future__ import annotations

from fastapi import APIRouter

from api.core.errors import Unauthenticated, ValidationFailed
from api.core.problems import error_responses
from api.deps import SessionDep, StaffMayLicensing
from api.licensing import previews
from api.licensing.errors import InvalidRateCard
from api.licensing.schemas import (
    AutoApprovalRuleCreate, DryRunMatch, DryRunRead, PricePreviewRead, RateCardPreviewBody, RateCardPreviewRead,
)
from api.staff.errors import RoleRequired

router = APIRouter(tags=["licensing"])
Licensing = StaffMayLicensing


def rate_card_etag(version: int) -> str:
    return f'"{version}"'


def etag_version(if_match: str | None) -> int | None:
    """`"3"` or `W/"3"` -> 3; absent or `*` -> None (no check); anything else matches no version."""
    if not if_match or if_match.strip() == "*":
        return None
    tag = if_match.split(",")[0].strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isdigit() else -1


@router.post("/v1/staff/rate-card/preview", response_model=RateCardPreviewRead, summary="Preview a rate card edit",
             description="What typical requests cost on the current card and on the edited one; nothing is published.",
             responses=error_responses(InvalidRateCard, ValidationFailed, Unauthenticated, RoleRequired))
def preview_rate_card(body: RateCardPreviewBody, session: SessionDep, staff: Licensing) -> RateCardPreviewRead:
    return RateCardPreviewRead(items=[PricePreviewRead(**vars(p)) for p in previews.preview_card(session, body.card)])


@router.post("/v1/staff/auto-approval-rules/dry-run", response_model=DryRunRead, summary="Dry-run an auto-approval rule",
             description="Which of the last 100 requests this rule would have approved; nothing is saved.",
             responses=error_responses(ValidationFailed, Unauthenticated, RoleRequired))
def dry_run_rule(body: AutoApprovalRuleCreate, session: SessionDep, staff: Licensing) -> DryRunRead:
    results = previews.dry_run(session, values=body.model_dump(exclude_none=True))
    items = [DryRunMatch(request_id=r.id, partner_id=r.partner_id, status=r.state, currency=r.currency,
                         amount_quoted=r.quoted_amount, would_approve=matched) for r, matched in results]
    return DryRunRead(checked=len(items), would_approve=sum(i.would_approve for i in items), items=items)
