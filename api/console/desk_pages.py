"""Console pages for finance and the desk: invoices with mark-paid (finance), partners with
verify/suspend (licensing; finance may look), and the audit trail (licensing). Permissions as in
the API (api/staff/permissions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.audit import service as audit
from api.audit.service import Actor
from api.console.audit_lines import audit_lines
from api.console import partner_pages, views
from api.console import table_views as tables
from api.console.audit_lines import OBJECTS as AUDITED_OBJECTS
from api.console.labels import label
from api.console.table_views import Filter, Table, choices
from api.console.deps import (
    ConsoleStaffMayAudit, ConsoleStaffMayInvoices, ConsoleStaffMayPartnerDetails, PostingStaffMayInvoices,
    PostingStaffMayPartners, attempt, found,
)
from api.console.views import Staff
from api.core.errors import Invalid, SyndicateError
from api.core.pagination import MAX_LIMIT
from api.web import names as names_of
from api.deps import SessionDep
from api.invoicing import service as invoicing
from api.invoicing.models import InvoiceStatus
from api.partners import service as partners
from api.partners.models import PartnerStatus
from billing import providers_without

router = APIRouter()
DONE = {"paid": "Payment recorded; the invoice's licences are active.", "active": "Partner verified.",
        "suspended": "Partner suspended."}


def _invoices_table(request: Request, session) -> Table:
    return Table.read(request, "/console/invoices", [
        Filter("status", "Status", choices=choices(InvoiceStatus)), tables.partner_filter(session, request),
        Filter("period", "Month", kind="text", placeholder="2026-03"), *tables.date_range("created", "Issued"),
    ], invoicing.INVOICE_ORDERS, default_sort="newest", exports=True)


def _invoice_rows(session, table: Table, cursor: str | None, limit: int = tables.PAGE_SIZE):
    return found(invoicing.list_invoices, session, status=table.choice("status", InvoiceStatus),
                 partner_id=table.value("partner_id"), period=table.value("period"),
                 created_from=table.start_of("created_from"), created_until=table.end_of("created_until"),
                 sort=table.sort, cursor=cursor, limit=limit)


def _invoices_page(request: Request, session, staff: Staff, *, error: SyndicateError | None = None,
                   failed: str | None = None, values: dict | None = None):
    table = _invoices_table(request, session)
    rows, table.next_cursor = _invoice_rows(session, table, table.cursor)
    return views.render(
        request, "invoices.html", staff=staff, rows=rows, table=table, names=tables.partner_names(session, [r.partner_id for r in rows]),
        done=DONE.get(request.query_params.get("done", "")),
        error=error,
        failed=failed, values=values or {}, paid_by_hand=providers_without("reports_payments"),
    )


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, staff: ConsoleStaffMayInvoices, session: SessionDep) -> HTMLResponse:
    return _invoices_page(request, session, staff)


@router.get("/invoices.csv")
def invoices_csv(request: Request, staff: ConsoleStaffMayInvoices, session: SessionDep) -> Response:
    table = _invoices_table(request, session)
    return tables.partner_csv(
        session, "invoices", ["invoice", "number", "partner", "kind", "period", "status", "total", "due", "paid",
                              "currency", "due date", "issued"],
        lambda cursor: _invoice_rows(session, table, cursor, MAX_LIMIT),
        lambda i, partner: [i.id, i.number or "", partner, label(i.kind), i.period or "", label(i.status),
                            *(views.plain_amount(a, i.currency) for a in (i.total, i.amount_due, i.amount_paid)),
                            i.currency, i.due_at.date().isoformat() if i.due_at else "", i.created_at.isoformat()])


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
        return _invoices_page(request, session, staff, error=error, failed=invoice_id, values={"reference": reference})
    return views.redirect("/console/invoices?done=paid")


def _partners_table(request: Request) -> Table:
    return Table.read(request, "/console/partners", [
        Filter("status", "Status", choices=choices(PartnerStatus)),
        Filter("text", "Name, website or e-mail", kind="text", placeholder="Gazette"),
    ], partners.PARTNER_ORDERS, default_sort="newest", exports=True)


def _partner_rows(session, table: Table, cursor: str | None, limit: int = tables.PAGE_SIZE):
    return found(partners.list_partners, session, status=table.choice("status", PartnerStatus),
                 text=table.value("text"), sort=table.sort, cursor=cursor, limit=limit)


def _partners_page(request: Request, session, staff: Staff, *, error: SyndicateError | None = None):
    table = _partners_table(request)
    rows, table.next_cursor = _partner_rows(session, table, table.cursor)
    return views.render(request, "partners.html", staff=staff, rows=rows, table=table,
                        done=DONE.get(request.query_params.get("done", "")),
                        error=error)


@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request, staff: ConsoleStaffMayPartnerDetails, session: SessionDep) -> HTMLResponse:
    return _partners_page(request, session, staff)


@router.get("/partners.csv")
def partners_csv(request: Request, staff: ConsoleStaffMayPartnerDetails, session: SessionDep) -> Response:
    table = _partners_table(request)
    rows = tables.every_row(lambda cursor: _partner_rows(session, table, cursor, MAX_LIMIT))
    return tables.csv_response("partners", ["partner", "name", "country", "currency", "billing e-mail", "status",
                                            "since"],
                               [[p.id, p.name, names_of.country(p.country), p.currency, p.billing_email,
                                 label(p.status), p.created_at.date().isoformat()] for p in rows])


def _set_status(request: Request, session, staff: Staff, partner_id: str, change, done: str, reason: str, back: str):
    """Verify or suspend, then back where the button was: the partners list, or (`back=partner`) the partner's page."""
    error = attempt(session, lambda: change(session, partner_id, actor=Actor("staff", staff.user.id),
                                            reason=reason.strip() or None))
    if back == "partner":
        if error:
            return partner_pages.partner_page(request, session, staff, partner_id, error=error)
        return views.redirect(f"/console/partners/{partner_id}?done={done}")
    if error:
        return _partners_page(request, session, staff, error=error)
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
def audit_page(request: Request, staff: ConsoleStaffMayAudit, session: SessionDep) -> HTMLResponse:
    table = Table.read(request, "/console/audit", [
        Filter("object_type", "About", choices=[("", "Anything"), *((kind, label(kind)) for kind in AUDITED_OBJECTS)]),
        Filter("object_id", "Object id", kind="text", placeholder="lic_…"), tables.partner_filter(session, request),
        *tables.date_range("at", "Dated"),
    ], audit.AUDIT_ORDERS, default_sort="newest")
    rows, table.next_cursor = found(
        audit.list_entries, session, object_type=table.value("object_type"), object_id=table.value("object_id"),
        partner_id=table.value("partner_id"), at_from=table.start_of("at_from"), at_until=table.end_of("at_until"),
        sort=table.sort, cursor=table.cursor, limit=50)
    return views.render(request, "audit.html", staff=staff, rows=audit_lines(session, rows), table=table)
