"""Licence requests from the partner's side: submit, list and read its own.

Submitting prices the request with the current rate card, records it, moves it into review
(`submitted -> in_review`, audited as the system), tells the licensing desk, and lets the
auto-approval rules decide at once when one matches.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlmodel import Session, col, select

from api.audit import service as audit
from api.core.pagination import SortOrder, keyset_page, sorted_page
from api.licensing import autoapproval, quotes, states
from api.licensing.models import Licence, LicenceRequest
from api.licensing.states import RequestState
from api.partners.models import Partner
from api.staff import notifications as staff_notifications


def submit(
    session: Session, *, partner: Partner, terms: quotes.TermsInput, publication_url: str | None = None,
    notes: str | None = None,
) -> LicenceRequest:
    """Check, price and record a request, put it in review, and try the auto-approval rules."""
    quote = quotes.quote(session, terms, currency=partner.currency)
    checked = quote.terms
    request = LicenceRequest(
        partner_id=partner.id, scope=checked.scope, article_ids=checked.article_ids, section=checked.section,
        use=checked.use, territories=checked.territories, language=checked.language, translation=checked.translation,
        starts_at=checked.starts_at, ends_at=checked.ends_at, audience_size=checked.audience_size,
        max_live_articles=checked.max_live_articles,
        publication_url=publication_url, notes=(notes or "").strip() or None, currency=quote.currency,
        quoted_amount=quote.amount, quote_lines=[asdict(line) for line in quote.lines],
        billing_mode=quote.billing_mode, rate_card_version=quote.rate_card_version,
    )
    session.add(request)
    session.flush()
    audit.record(session, actor=audit.Actor("partner", partner.id), action="licence_request.submitted",
                 object_type="licence_request", object_id=request.id, partner_id=partner.id,
                 after={"state": str(request.state), "quoted_amount": request.quoted_amount, "currency": request.currency,
                        "rate_card_version": request.rate_card_version})
    states.transition(session, request, RequestState.in_review, kind="licence_request", actor=audit.Actor.system("intake"))
    session.flush()
    staff_notifications.notify_staff(
        session, subject=f"New licence request from {partner.name}",
        body=(f"{partner.name} asks for a {request.scope} licence ({request.use}, {', '.join(request.territories)}) "
              f"quoted at {request.quoted_amount} {request.currency} minor units.\nRequest: {request.id}"),
        dedupe_key=f"request.submitted:{request.id}",
    )
    autoapproval.apply(session, request, partner=partner)
    return request


def list_for_partner(
    session: Session, *, partner_id: str, state: RequestState | None = None, cursor: str | None = None, limit: int = 50,
) -> tuple[list[LicenceRequest], str | None]:
    """The partner's own requests, newest first."""
    stmt = select(LicenceRequest).where(LicenceRequest.partner_id == partner_id)
    if state:
        stmt = stmt.where(LicenceRequest.state == state)
    return keyset_page(session, stmt, columns=[col(LicenceRequest.id)], kinds=[str], cursor=cursor, limit=limit,
                       descending=True)


QUEUE_ORDERS = {
    "age": SortOrder("Oldest first", [LicenceRequest.created_at, LicenceRequest.id], [datetime, str]),  # type: ignore[list-item]
    "newest": SortOrder("Newest first", [LicenceRequest.created_at, LicenceRequest.id], [datetime, str],  # type: ignore[list-item]
                        descending=True),
    "value": SortOrder("Highest value first", [LicenceRequest.quoted_amount, LicenceRequest.id], [int, str],  # type: ignore[list-item]
                       descending=True),
}


def list_queue(
    session: Session, *, state: RequestState | None = None, partner_id: str | None = None, currency: str | None = None,
    received_from: datetime | None = None, received_until: datetime | None = None,
    sort: str = "age", cursor: str | None = None, limit: int = 50,
) -> tuple[list[LicenceRequest], str | None]:
    """The staff queue in one of `QUEUE_ORDERS`. `age`: oldest first (on created_at, id); `value`:
    highest quote first (on quoted_amount, id). Values in different currencies are compared as they
    are: filter by currency for a like-for-like ranking. `received_from`/`_until` bound created_at
    ([from, until)); each order has a (state, key, id), (partner_id, key, id) and (key, id) index."""
    stmt = select(LicenceRequest)
    if state:
        stmt = stmt.where(LicenceRequest.state == state)
    if partner_id:
        stmt = stmt.where(LicenceRequest.partner_id == partner_id)
    if currency:
        stmt = stmt.where(LicenceRequest.currency == currency.upper())
    if received_from:
        stmt = stmt.where(LicenceRequest.created_at >= received_from)
    if received_until:
        stmt = stmt.where(LicenceRequest.created_at < received_until)
    return sorted_page(session, stmt, QUEUE_ORDERS, sort, cursor=cursor, limit=limit)


def licence_ids(session: Session, request_ids: list[str]) -> dict[str, str]:
    """request id -> licence id, for the given requests that have a licence (one query)."""
    if not request_ids:
        return {}
    rows = session.exec(select(col(Licence.request_id), col(Licence.id)).where(col(Licence.request_id).in_(request_ids))).all()
    return dict(rows)
