"""Operations pages: reconcile our invoices with the provider's (finance), the outbox's dead and
retrying messages with a retry button (admin), and partner webhook endpoints in trouble (admin).
Same services as the CLI and the staff API: api/invoicing/periods.reconcile, api/outbox/service."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from api.audit.service import Actor
from api.console import table_views as tables, views
from api.console.table_views import Filter, Table
from api.console.deps import (
    ConsoleStaffMayInvoices, ConsoleStaffMayOutbox, ConsoleStaffMayPartners, PostingStaffMayOutbox, attempt, found,
)
from api.core.errors import SyndicateError
from api.deps import ReadSessionDep, SessionDep
from api.delivery.endpoint_health import troubled_endpoints
from api.invoicing.models import Invoice
from api.invoicing.periods import reconcile
from api.outbox import service as outbox
from billing import BillingError, build_backend

router = APIRouter()
TOPICS = {"email.send": "E-mail", "delivery.webhook_send": "Partner webhook", "invoicing.charge_licence": "Licence charge",
          "invoicing.settle_amendment": "Amendment invoice or credit", "licence.amended": "Amendment announcement",
          "article.changed": "Correction or takedown fan-out"}
EXPLAINED = {
    "missing at provider": "We issued this invoice but the provider has no such invoice: it was deleted there, or "
                           "issued under another account.",
    "missing locally": "The provider holds an invoice for one of our partners that we never recorded: a crash "
                       "between the provider's answer and our commit, or an invoice made by hand on the provider.",
    "status": "The provider's status differs: a payment or void we have not heard of yet (a webhook is late or lost).",
    "total": "The invoice's lines add up differently: it was edited on the provider after we issued it.",
    "amount_due": "What is due differs: a credit balance was applied, or the invoice was changed on the provider.",
    "amount_paid": "What was paid differs: a payment we have not recorded yet.",
    "currency": "The currency differs: the invoice was made by hand on the provider.",
    "refunded": "Paid, then refunded: the provider's invoice still reads paid.",
    "disputed": "The payment is disputed: decide what happens to the licence.",
}


@router.get("/operations/reconcile", response_class=HTMLResponse)
def reconcile_page(request: Request, staff: ConsoleStaffMayInvoices, session: SessionDep,
                   reader: ReadSessionDep) -> HTMLResponse:
    backend = build_backend(staff.settings)
    error = None
    # The provider's invoices are listed (many pages of them) with no write transaction open: the
    # sign-in check's is ended first, and the comparison reads through a read-only session, which
    # on SQLite never takes the write lock that content delivery needs.
    session.commit()
    try:
        differences = reconcile(reader, backend=backend)
    except BillingError as exc:
        differences, error = [], f"The provider could not be asked: {exc}"
    ours = {d.invoice_id for d in differences if d.invoice_id}
    invoices = {i.id: i for i in reader.exec(select(Invoice).where(col(Invoice.id).in_(ours))).all()} if ours else {}
    return views.render(request, "reconcile.html", staff=staff, differences=differences, invoices=invoices,
                        explained=EXPLAINED, provider=backend.name, keeps_invoices=backend.capabilities.keeps_invoices,
                        error=error)


# What the outbox page can show: (service status, only messages already tried?) per choice.
SHOWN = {"dead": ("dead", False), "retrying": ("pending", True), "pending": ("pending", False), "done": ("done", False),
         "": (None, False)}


def _outbox_page(request: Request, session, staff, *, error: SyndicateError | None = None) -> HTMLResponse:
    table = Table.read(request, "/console/operations/outbox", [
        Filter("status", "Show", choices=[("dead", "Dead: given up after their retries"),
                                          ("retrying", "Retrying: failed, tried again soon"),
                                          ("pending", "Waiting to be sent"), ("done", "Delivered"), ("", "All")]),
        Filter("topic", "What", choices=[("", "Anything"), *TOPICS.items()]),
    ], outbox.MESSAGE_ORDERS, default_sort="newest", defaults={"status": "dead"})
    status, retrying = SHOWN[table.values["status"]]
    rows, table.next_cursor = found(outbox.list_messages, session, status=status, retrying=retrying,
                                    topic=table.value("topic"), sort=table.sort, cursor=table.cursor,
                                    limit=tables.PAGE_SIZE)
    done = {"retried": "Message queued again: the worker sends it shortly."}.get(request.query_params.get("done", ""))
    return views.render(request, "outbox.html", staff=staff, rows=rows, table=table, topics=TOPICS,
                        done=done, error=error)


@router.get("/operations/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, staff: ConsoleStaffMayOutbox, session: SessionDep) -> HTMLResponse:
    return _outbox_page(request, session, staff)


@router.post("/operations/outbox/{message_id}/retry", response_class=HTMLResponse)
def retry_message(request: Request, message_id: str, staff: PostingStaffMayOutbox, session: SessionDep) -> Response:
    error = attempt(session, lambda: outbox.retry(session, message_id=message_id, actor=Actor("staff", staff.user.id)))
    if error:
        return _outbox_page(request, session, staff, error=error)
    return views.redirect("/console/operations/outbox?done=retried")


@router.get("/operations/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, staff: ConsoleStaffMayPartners, session: SessionDep) -> HTMLResponse:
    # One fixed order (removed last, most failures first) over the newest undelivered deliveries:
    # an aggregate per endpoint, so filtered here and not paged.
    table = Table.read(request, "/console/operations/webhooks", [
        Filter("state", "Show", choices=[("", "Failing or removed"), ("failing", "Failing"), ("removed", "Removed")]),
        Filter("text", "Partner or address", kind="text"),
    ], {}, default_sort="")
    wanted, text = table.values["state"], (table.value("text") or "").lower()
    endpoints = [h for h in troubled_endpoints(session)
                 if (not wanted or h.disabled == (wanted == "removed"))
                 and (not text or text in h.partner_name.lower() or text in h.endpoint.url.lower())]
    return views.render(request, "webhook_health.html", staff=staff, endpoints=endpoints, table=table)
