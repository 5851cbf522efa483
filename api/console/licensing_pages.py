"""Console pages for the licensing desk: the request queue, a request with its decision forms,
and licences with revocation. Permission `licensing`, as in the API (api/staff/permissions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.audit.service import Actor
from api.catalogue import service as catalogue
from api.catalogue.models import Article
from api.console import views
from api.console.deps import ConsoleStaffMayLicensing, PostingStaffMayLicensing, attempt, found
from api.console.views import Staff
from api.core.errors import NotFound, SyndicateError
from api.deps import SessionDep
from api.licensing import service as licensing
from api.licensing.states import LicenceState, RequestState
from api.partners import service as partners

router = APIRouter()
Licensing = ConsoleStaffMayLicensing
LicensingPost = PostingStaffMayLicensing
DONE = {"approved": "Approved: the licence is granted.", "rejected": "Rejected: the partner is told the reason.",
        "countered": "Counter-offer sent to the partner.", "revoked": "Licence revoked."}
PAST = {"approve": "approved", "reject": "rejected", "counter": "countered"}


def _partner_names(session, ids) -> dict[str, str]:
    return {pid: partners.get_partner(session, pid).name for pid in set(ids)}


@router.get("/requests", response_class=HTMLResponse)
def queue(request: Request, staff: Licensing, session: SessionDep, state: str = "in_review",
          sort: str = "age", cursor: str | None = None) -> HTMLResponse:
    chosen = RequestState(state) if state in RequestState.__members__ else None
    rows, next_cursor = found(licensing.list_queue, session, state=chosen, sort="value" if sort == "value" else "age",
                                            cursor=cursor, limit=25)
    return views.render(request, "queue.html", staff=staff, rows=rows, next_cursor=next_cursor,
                        state=state if chosen else "any", sort=sort, states=list(RequestState),
                        names=_partner_names(session, [r.partner_id for r in rows]),
                        licence_ids=licensing.licence_ids(session, [r.id for r in rows]))


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
        next_states=licensing.allowed_transitions("licence_request", row.state),
        done=DONE.get(request.query_params.get("done", "")),
        error=views.error_message(error) if error else None, code=error.status if error else 200,
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


def _licences_page(request: Request, session, staff: Staff, *, state: str, cursor: str | None,
                   error: SyndicateError | None = None, failed: str | None = None, values: dict | None = None):
    chosen = LicenceState(state) if state in LicenceState.__members__ else None
    rows, next_cursor = found(licensing.list_licences, session, state=chosen, cursor=cursor, limit=25)
    return views.render(
        request, "licences.html", staff=staff, rows=rows, next_cursor=next_cursor, state=state if chosen else "any",
        states=list(LicenceState), names=_partner_names(session, [r.partner_id for r in rows]),
        revocable={r.id for r in rows if LicenceState.revoked in licensing.allowed_transitions("licence", r.state)},
        done=DONE.get(request.query_params.get("done", "")), error=views.error_message(error) if error else None,
        code=error.status if error else 200, failed=failed, values=values or {},
    )


@router.get("/licences", response_class=HTMLResponse)
def licences_page(request: Request, staff: Licensing, session: SessionDep, state: str = "any",
                  cursor: str | None = None) -> HTMLResponse:
    return _licences_page(request, session, staff, state=state, cursor=cursor)


@router.post("/licences/{licence_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, licence_id: str, staff: LicensingPost, session: SessionDep,
           reason: Annotated[str, Form()] = ""):
    error = attempt(session, lambda: licensing.revoke(session, licence_id, reason=reason,
                                                              actor=Actor("staff", staff.user.id)))
    if error:
        return _licences_page(request, session, staff, state="any", cursor=None, error=error, failed=licence_id,
                              values={"reason": reason})
    return views.redirect("/console/licences?done=revoked")
