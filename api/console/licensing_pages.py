"""Console pages for the licensing desk: the request queue, a request with its decision forms,
and licences with revocation. Permission `licensing`, as in the API (api/staff/permissions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.audit.service import Actor
from api.catalogue import service as catalogue
from api.catalogue.models import Article
from api.console import table_views as tables, views
from api.console.labels import label
from api.console.table_views import Filter, Table, choices
from api.console.deps import ConsoleStaffMayLicensing, PostingStaffMayLicensing, attempt, found
from api.console.views import Staff
from api.core.errors import NotFound, SyndicateError
from api.core.pagination import MAX_LIMIT
from api.web import names as names_of
from api.deps import SessionDep
from api.licensing import service as licensing
from api.licensing.states import LicenceState, RequestState
from api.partners import service as partners
from api.staff.models import StaffUser

router = APIRouter()
Licensing = ConsoleStaffMayLicensing
LicensingPost = PostingStaffMayLicensing
DONE = {"approved": "Approved: the licence is granted.", "rejected": "Rejected: the partner is told the reason.",
        "countered": "Counter-offer sent to the partner.", "revoked": "Licence revoked."}
PAST = {"approve": "approved", "reject": "rejected", "counter": "countered"}


def _queue_table(request: Request, session) -> Table:
    return Table.read(request, "/console/requests", [
        Filter("state", "State", choices=choices(RequestState)), tables.partner_filter(session, request),
        *tables.date_range("received", "Received"),
    ], licensing.QUEUE_ORDERS, default_sort="age", defaults={"state": RequestState.in_review.value}, exports=True)


def _queue_rows(session, table: Table, cursor: str | None, limit: int = tables.PAGE_SIZE):
    return found(licensing.list_queue, session, state=table.choice("state", RequestState),
                 partner_id=table.value("partner_id"), received_from=table.start_of("received_from"),
                 received_until=table.end_of("received_until"), sort=table.sort, cursor=cursor, limit=limit)


@router.get("/requests", response_class=HTMLResponse)
def queue(request: Request, staff: Licensing, session: SessionDep) -> HTMLResponse:
    table = _queue_table(request, session)
    rows, table.next_cursor = _queue_rows(session, table, table.cursor)
    return views.render(request, "queue.html", staff=staff, rows=rows, table=table,
                        names=tables.partner_names(session, [r.partner_id for r in rows]),
                        licence_ids=licensing.licence_ids(session, [r.id for r in rows]))


@router.get("/requests.csv")
def queue_csv(request: Request, staff: Licensing, session: SessionDep) -> Response:
    table = _queue_table(request, session)
    return tables.partner_csv(
        session, "requests", ["request", "partner", "scope", "use", "territories", "state", "quote", "currency",
                              "received"],
        lambda cursor: _queue_rows(session, table, cursor, MAX_LIMIT),
        lambda r, partner: [r.id, partner, label(r.scope), licensing.use_name(r.use), names_of.countries(r.territories),
                            label(r.state), views.plain_amount(r.quoted_amount, r.currency), r.currency,
                            r.created_at.isoformat()])


def _staff_name(session, staff_id: str | None) -> str | None:
    """Who decided, by name; an auto-approval or a removed account by what was recorded."""
    if not staff_id:
        return None
    user = session.get(StaffUser, staff_id)
    return user.name if user else {"autoapproval": "an auto-approval rule"}.get(staff_id, staff_id)


def _request_page(request: Request, session, staff: Staff, request_id: str, *, error: SyndicateError | None = None,
                  form: str | None = None, values: dict | None = None) -> HTMLResponse:
    row = found(licensing.get_request, session, request_id)
    articles: list[Article | None] = []
    for article_id in row.article_ids:
        try:
            articles.append(catalogue.get_article(session, article_id))
        except NotFound:
            articles.append(None)
    return views.render(
        request, "request.html", staff=staff, row=row, partner=partners.get_partner(session, row.partner_id),
        articles=list(zip(row.article_ids, articles)), licence_id=licensing.licence_ids(session, [row.id]).get(row.id),
        next_states=licensing.allowed_transitions("licence_request", row.state), decided_by=_staff_name(session, row.decided_by),
        done=DONE.get(request.query_params.get("done", "")),
        error=error,
        form=form, values=values or {},
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: str, staff: Licensing, session: SessionDep) -> HTMLResponse:
    return _request_page(request, session, staff, request_id)


def _decide(request: Request, session, staff: Staff, request_id: str, form: str, values: dict, action) -> Response:
    error = attempt(session, action)
    if error:
        return _request_page(request, session, staff, request_id, error=error, form=form, values=values)
    return views.redirect(f"/console/requests/{request_id}?done={PAST[form]}")


@router.post("/requests/{request_id}/approve", response_class=HTMLResponse)
def approve(request: Request, request_id: str, staff: LicensingPost, session: SessionDep,
            amount: Annotated[str, Form()] = "", conditions: Annotated[str, Form()] = ""):
    def act() -> None:
        row = found(licensing.get_request, session, request_id)
        licensing.approve(session, request_id, actor=Actor("staff", staff.user.id),
                          amount=views.parse_amount(amount, row.currency), conditions=views.lines(conditions))

    return _decide(request, session, staff, request_id, "approve", {"amount": amount, "conditions": conditions}, act)


@router.post("/requests/{request_id}/reject", response_class=HTMLResponse)
def reject(request: Request, request_id: str, staff: LicensingPost, session: SessionDep,
           reason: Annotated[str, Form()] = ""):
    def act() -> None:
        licensing.reject(session, request_id, actor=Actor("staff", staff.user.id), reason=reason)

    return _decide(request, session, staff, request_id, "reject", {"reason": reason}, act)


@router.post("/requests/{request_id}/counter", response_class=HTMLResponse)
def counter(request: Request, request_id: str, staff: LicensingPost, session: SessionDep,
            amount: Annotated[str, Form()] = "", conditions: Annotated[str, Form()] = "",
            message: Annotated[str, Form()] = ""):
    def act() -> None:
        row = found(licensing.get_request, session, request_id)
        licensing.counter(session, request_id, actor=Actor("staff", staff.user.id),
                          amount=views.parse_amount(amount, row.currency), conditions=views.lines(conditions),
                          message=message)

    values = {"amount": amount, "conditions": conditions, "message": message}
    return _decide(request, session, staff, request_id, "counter", values, act)


def _licences_table(request: Request, session) -> Table:
    return Table.read(request, "/console/licences", [
        Filter("state", "State", choices=choices(LicenceState)), tables.partner_filter(session, request),
        *tables.date_range("ends", "Ends"),
    ], licensing.LICENCE_ORDERS, default_sort="newest", exports=True)


def _licence_rows(session, table: Table, cursor: str | None, limit: int = tables.PAGE_SIZE):
    return found(licensing.list_licences, session, state=table.choice("state", LicenceState),
                 partner_id=table.value("partner_id"), ends_after=table.start_of("ends_from"),
                 ends_before=table.end_of("ends_until"), sort=table.sort, cursor=cursor, limit=limit)


def _licences_page(request: Request, session, staff: Staff, *, error: SyndicateError | None = None,
                   failed: str | None = None, values: dict | None = None):
    table = _licences_table(request, session)
    rows, table.next_cursor = _licence_rows(session, table, table.cursor)
    return views.render(
        request, "licences.html", staff=staff, rows=rows, table=table,
        names=tables.partner_names(session, [r.partner_id for r in rows]),
        revocable={r.id for r in rows if LicenceState.revoked in licensing.allowed_transitions("licence", r.state)},
        done=DONE.get(request.query_params.get("done", "")), error=error, failed=failed, values=values or {},
    )


@router.get("/licences", response_class=HTMLResponse)
def licences_page(request: Request, staff: Licensing, session: SessionDep) -> HTMLResponse:
    return _licences_page(request, session, staff)


@router.get("/licences.csv")
def licences_csv(request: Request, staff: Licensing, session: SessionDep) -> Response:
    table = _licences_table(request, session)
    return tables.partner_csv(
        session, "licences", ["licence", "partner", "scope", "use", "territories", "starts", "ends", "state", "fee",
                              "currency", "billing"],
        lambda cursor: _licence_rows(session, table, cursor, MAX_LIMIT),
        lambda r, partner: [r.id, partner, label(r.scope), licensing.use_name(r.use), names_of.countries(r.territories),
                            r.starts_at.date().isoformat(), r.ends_at.date().isoformat(), label(r.state),
                            views.plain_amount(r.amount, r.currency), r.currency, label(r.billing_mode)])


@router.post("/licences/{licence_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, licence_id: str, staff: LicensingPost, session: SessionDep,
           reason: Annotated[str, Form()] = ""):
    error = attempt(session, lambda: licensing.revoke(session, licence_id, reason=reason,
                                                              actor=Actor("staff", staff.user.id)))
    if error:
        return _licences_page(request, session, staff, error=error, failed=licence_id, values={"reason": reason})
    return views.redirect("/console/licences?done=revoked")
