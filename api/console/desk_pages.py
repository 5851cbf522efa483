"""Console pages for finance and the desk: invoices with mark-paid (finance), partners with
verify/suspend (licensing; finance may look), and the audit trail (licensing). Permissions as in
the API (api/staff/permissions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from api.audit import service as audit
from api.audit.service import Actor
from api.console.audit_lines import audit_lines
from api.console import partner_pages, views
from api.console.deps import (
    ConsoleStaffMayAudit, ConsoleStaffMayInvoices, ConsoleStaffMayPartnerDetails, PostingStaffMayInvoices,
    PostingStaffMayPartners, attempt, found,
)
from api.console.views import Staff
from api.core.errors import Invalid, SyndicateError
from api.deps import SessionDep
from api.invoicing import service as invoicing
from api.invoicing.models import InvoiceStatus
from api.partners import service as partners
from api.partners.models import PartnerStatus
from billing import providers_without

router = APIRouter()
DONE = {"paid": "Payment recorded; the invoice's licences are active.", "active": "Partner verified.",
        "suspended": "Partner suspended."}


def _invoices_page(request: Request, session, staff: Staff, *, status: str, cursor: str | None,
                   error: SyndicateError | None = None, failed: str | None = None, values: dict | None = None):
    chosen = InvoiceStatus(status) if status in InvoiceStatus.__members__ else None
    rows, next_cursor = found(invoicing.list_invoices, session, status=chosen, cursor=cursor, limit=25)
    names = {pid: partners.get_partner(session, pid).name for pid in {r.partner_id for r in rows}}
    return views.render(
        request, "invoices.html", staff=staff, rows=rows, next_cursor=next_cursor, status=status if chosen else "any",
        statuses=list(InvoiceStatus), names=names, done=DONE.get(request.query_params.get("done", "")),
        error=views.error_message(error) if error else None, code=error.status if error else 200,
        failed=failed, values=values or {}, paid_by_hand=providers_without("reports_payments"),
    )


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, staff: ConsoleStaffMayInvoices, session: SessionDep, status: str = "any",
                  cursor: str | None = None) -> HTMLResponse:
    return _invoices_page(request, session, staff, status=status, cursor=cursor)


@router.post("/invoices/{invoice_id}/mark-paid", response_class=HTMLResponse)
def mark_paid(request: Request, invoice_id: str, staff: PostingStaffMayInvoices, session: SessionDep,
              reference: Annotated[str, Form()] = ""):

    def act() -> None:
        if not reference.strip():
            raise Invalid("Give the bank transfer's reference, so the payment can be traced.")
        invoicing.mark_paid(session, invoice_id, reference=reference.strip(), paid_at=None,
                            actor=Actor("staff", staff.user.id))

    error = attempt(session, act)
    if error:
        return _invoices_page(request, session, staff, status="any", cursor=None, error=error, failed=invoice_id,
                              values={"reference": reference})
    return views.redirect("/console/invoices?done=paid")


def _partners_page(request: Request, session, staff: Staff, *, status: str, cursor: str | None,
                   error: SyndicateError | None = None):
    chosen = PartnerStatus(status) if status in PartnerStatus.__members__ else None
    rows, next_cursor = found(partners.list_partners, session, status=chosen, cursor=cursor, limit=25)
    return views.render(request, "partners.html", staff=staff, rows=rows, next_cursor=next_cursor,
                        status=status if chosen else "any", statuses=list(PartnerStatus),
                        done=DONE.get(request.query_params.get("done", "")),
                        error=views.error_message(error) if error else None, code=error.status if error else 200)


@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request, staff: ConsoleStaffMayPartnerDetails, session: SessionDep, status: str = "any",
                  cursor: str | None = None) -> HTMLResponse:
    return _partners_page(request, session, staff, status=status, cursor=cursor)


def _set_status(request: Request, session, staff: Staff, partner_id: str, change, done: str, reason: str, back: str):
    """Verify or suspend, then back where the button was: the partners list, or (`back=partner`) the partner's page."""
    error = attempt(session, lambda: change(session, partner_id, actor=Actor("staff", staff.user.id),
                                            reason=reason.strip() or None))
    if back == "partner":
        if error:
            return partner_pages.partner_page(request, session, staff, partner_id, error=error)
        return views.redirect(f"/console/partners/{partner_id}?done={done}")
    if error:
        return _partners_page(request, session, staff, status="any", cursor=None, error=error)
    return views.redirect(f"/console/partners?done={done}")


@router.post("/partners/{partner_id}/verify", response_class=HTMLResponse)
def verify(request: Request, partner_id: str, staff: PostingStaffMayPartners, session: SessionDep,
           reason: Annotated[str, Form()] = "", back: Annotated[str, Form()] = ""):
    return _set_status(request, session, staff, partner_id, partners.verify_partner, "active", reason, back)


@router.post("/partners/{partner_id}/suspend", response_class=HTMLResponse)
def suspend(request: Request, partner_id: str, staff: PostingStaffMayPartners, session: SessionDep,
            reason: Annotated[str, Form()] = "", back: Annotated[str, Form()] = ""):
    return _set_status(request, session, staff, partner_id, partners.suspend_partner, "suspended", reason, back)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, staff: ConsoleStaffMayAudit, session: SessionDep, object_type: str = "", object_id: str = "",
               partner_id: str = "", cursor: str | None = None) -> HTMLResponse:
    attempt_error = None
    try:
        rows, next_cursor = audit.list_entries(session, object_type=object_type.strip() or None,
                                               object_id=object_id.strip() or None,
                                               partner_id=partner_id.strip() or None, cursor=cursor, limit=50)
    except SyndicateError as exc:  # a bad cursor pasted into the address bar
        rows, next_cursor, attempt_error = [], None, views.error_message(exc)
    return views.render(request, "audit.html", staff=staff, rows=audit_lines(session, rows), next_cursor=next_cursor, error=attempt_error,
                        filters={"object_type": object_type, "object_id": object_id, "partner_id": partner_id})
