"""Console pages for billing on demand and calling off unpaid licences: what the next period run
will bill per partner with an "Invoice now" button each (finance), invoice one licence now, and
cancel a licence still awaiting payment (licensing). Same services as the staff API:
api/invoicing/cutoffs.py (invoice_now, preview_next_run) and api/licensing/licences.cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.audit.service import Actor
from api.console import views
from api.console.amendment_pages import act_on_licence
from api.console.deps import ConsoleStaffMayInvoices, PostingStaffMayInvoices, PostingStaffMayLicensing, attempt, found
from api.console.views import Staff
from api.core.errors import SyndicateError
from api.deps import SessionDep
from api.invoicing import cutoffs
from api.licensing import service as licensing
from billing import build_backend

router = APIRouter()


def _next_run_page(request: Request, session, staff: Staff, *, period: str | None = None,
                   error: SyndicateError | None = None) -> HTMLResponse:
    shown, previews = found(cutoffs.preview_next_run, session, period=period or None)
    done = {"invoiced": "Invoice drafted for the usage up to now: the worker sends it shortly, and the period run "
                        "bills only what comes after."}.get(request.query_params.get("done", ""))
    return views.render(request, "next_run.html", staff=staff, period=shown, previews=previews, done=done,
                        error=error)


@router.get("/invoicing/next-run", response_class=HTMLResponse)
def next_run_page(request: Request, staff: ConsoleStaffMayInvoices, session: SessionDep) -> HTMLResponse:
    return _next_run_page(request, session, staff)


def _invoice_now(session, staff: Staff, *, partner_id: str | None = None, licence_id: str | None = None) -> None:
    cutoffs.invoice_now(session, partner_id=partner_id, licence_id=licence_id, provider=build_backend(staff.settings).name,
                        actor=Actor("staff", staff.user.id))


@router.post("/partners/{partner_id}/invoice-now", response_class=HTMLResponse)
def invoice_partner_now(request: Request, partner_id: str, staff: PostingStaffMayInvoices,
                        session: SessionDep) -> Response:
    error = attempt(session, lambda: _invoice_now(session, staff, partner_id=partner_id))
    if error:
        return _next_run_page(request, session, staff, error=error)
    return views.redirect("/console/invoicing/next-run?done=invoiced")


@router.post("/licences/{licence_id}/invoice-now", response_class=HTMLResponse)
def invoice_licence_now(request: Request, licence_id: str, staff: PostingStaffMayInvoices,
                        session: SessionDep) -> Response:
    action = lambda: _invoice_now(session, staff, licence_id=licence_id)  # noqa: E731
    if staff.may("licensing"):  # the licence page is the licensing desk's; finance alone answers from the preview
        return act_on_licence(request, session, staff, licence_id, "invoice", {}, action, done="invoiced")
    error = attempt(session, action)
    if error:
        return _next_run_page(request, session, staff, error=error)
    return views.redirect("/console/invoicing/next-run?done=invoiced")


@router.post("/licences/{licence_id}/cancel", response_class=HTMLResponse)
def cancel_licence(request: Request, licence_id: str, staff: PostingStaffMayLicensing, session: SessionDep,
                   reason: Annotated[str, Form()] = "") -> Response:
    return act_on_licence(request, session, staff, licence_id, "cancel", {"reason": reason},
                          lambda: licensing.cancel_licence(session, licence_id, actor=Actor("staff", staff.user.id),
                                                           reason=reason), done="cancelled")
