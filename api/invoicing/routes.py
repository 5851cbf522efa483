"""Invoices for staff and partners, billing runs, and the Stripe webhook. Thin: services do the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Query, Request, status

from api.audit.service import Actor
from api.core.errors import BadCursor, Forbidden, Unauthenticated
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import error_responses
from api.deps import (
    CurrentPartner, EngineDep, IdempotencyKey, ReadSessionDep, SessionDep, SettingsDep, StaffMayInvoices, sort_query,
)
from api.core import idempotency
from api.core.errors import IdempotencyKeyInProgress, IdempotencyKeyInvalid, IdempotencyKeyReused, ValidationFailed
from api.invoicing import cutoffs, periods, webhooks
from api.invoicing import service as invoicing
from api.licensing.errors import LicenceNotFound
from api.invoicing.models import Invoice, InvoiceStatus
from api.invoicing.schemas import (
    InvoicingPreview, InvoicingRunAccepted, InvoicingRunCreate, InvoiceDetail, InvoiceLineRead, InvoiceNow, InvoicePage,
    InvoiceRead, MarkPaid, PartnerInvoiceDetail, PartnerInvoiceLineRead, PartnerPreviewRead, WebhookAck,
)
from billing import build_backend
from api.invoicing.errors import (
    BadCutoff, BadPeriod, InvoiceNotFound, InvoiceNotPayable, NothingToInvoice, PeriodNotEnded,
    WebhookSignatureInvalid, WebhooksNotConfigured,
)
from api.partners.errors import PartnerNotFound

router = APIRouter(tags=["invoicing"])

Finance = StaffMayInvoices

Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
AUTH_ERRORS = (Unauthenticated, Forbidden)


def _detail(session, invoice: Invoice) -> InvoiceDetail:
    lines = [InvoiceLineRead.model_validate(line) for line in invoicing.get_lines(session, invoice)]
    return InvoiceDetail(**InvoiceRead.model_validate(invoice).model_dump(), lines=lines)


@router.get("/v1/staff/invoices", response_model=InvoicePage, summary="List invoices (finance)",
            responses=error_responses(*AUTH_ERRORS, BadCursor))
def staff_list_invoices(
    session: SessionDep, staff: Finance, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    partner_id: Annotated[str | None, Query()] = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    licence_id: Annotated[str | None, Query()] = None,
    sort: Annotated[str, sort_query(invoicing.INVOICE_ORDERS)] = "newest",
) -> InvoicePage:
    rows, next_cursor = invoicing.list_invoices(session, partner_id=partner_id, status=status_, period=period,
                                                licence_id=licence_id, sort=sort, cursor=cursor, limit=limit)
    return InvoicePage(items=[InvoiceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/staff/invoices/{invoice_id}", response_model=InvoiceDetail, summary="One invoice with its lines",
            responses=error_responses(*AUTH_ERRORS, InvoiceNotFound))
def staff_get_invoice(invoice_id: str, session: SessionDep, staff: Finance) -> InvoiceDetail:
    return _detail(session, invoicing.get_invoice(session, invoice_id))


@router.post("/v1/staff/invoices/{invoice_id}/mark-paid", response_model=InvoiceDetail,
             summary="Record a bank transfer against a ledger invoice (activates its licences)",
             responses=error_responses(*AUTH_ERRORS, InvoiceNotFound, InvoiceNotPayable))
def mark_paid(invoice_id: str, body: MarkPaid, session: SessionDep, staff: Finance) -> InvoiceDetail:
    invoice = invoicing.mark_paid(session, invoice_id, reference=body.reference, paid_at=body.paid_at,
                                  actor=Actor("staff", staff.id))
    return _detail(session, invoice)


@router.post("/v1/staff/invoicing/runs", response_model=InvoicingRunAccepted, status_code=status.HTTP_202_ACCEPTED,
             summary="Invoice a period's usage and fees now (repeating it is safe)",
             description="Only a period that has ended (UTC) can be invoiced; each licence's usage is billed from "
                         "its last invoice-now cut-off. To bill usage of the running month, use invoice-now.",
             responses=error_responses(*AUTH_ERRORS, BadPeriod, PeriodNotEnded))
def start_run(body: InvoicingRunCreate, engine: EngineDep, settings: SettingsDep, staff: Finance,
              background: BackgroundTasks) -> InvoicingRunAccepted:
    periods.closed_period(body.period)
    # After the response: the run opens its own transactions, one per partner.
    background.add_task(periods.run_period, engine, body.period, backend=build_backend(settings), settings=settings)
    return InvoicingRunAccepted(period=body.period, status="started")


@router.get("/v1/staff/invoicing/preview", response_model=InvoicingPreview, operation_id="staff.invoicing.preview",
            summary="What the next period run will bill, per partner (read-only)",
            responses=error_responses(*AUTH_ERRORS, BadPeriod))
def preview_run(session: ReadSessionDep, staff: Finance,
                period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$",
                                                    description="YYYY-MM; default: the month running now.")] = None,
                ) -> InvoicingPreview:
    shown, previews = cutoffs.preview_next_run(session, period=period)
    return InvoicingPreview(period=shown, partners=[PartnerPreviewRead.model_validate(p) for p in previews])


INVOICE_NOW_ERRORS = (*AUTH_ERRORS, NothingToInvoice, BadCutoff, ValidationFailed, IdempotencyKeyReused,
                      IdempotencyKeyInProgress, IdempotencyKeyInvalid)
INVOICE_NOW_HELP = ("Bills the usage not billed yet, up to `cutoff` (default now), as one invoice that the worker "
                    "sends; the next invoice (invoice-now or the period run) starts exactly at the cut-off. Send an "
                    "`Idempotency-Key` to retry safely: the same key and body return the first result.")


InvoiceNowBody = Annotated[InvoiceNow | None, Body(openapi_examples={
    "now": {"summary": "Up to now (the body may be left out)", "value": {}},
    "cutoff": {"summary": "Up to a cut-off instant", "value": {"cutoff": "2026-12-15T00:00:00Z"}}})]


def _invoice_now(session, settings, staff, *, scope: str, key: str | None, body: InvoiceNow | None,
                 partner_id: str | None = None, licence_id: str | None = None):
    body = body or InvoiceNow()
    claim = idempotency.claim(session, scope=f"staff:invoice-now:{scope}", key=key, body=body)
    if claim.replay:
        return claim.response()
    invoice = cutoffs.invoice_now(session, partner_id=partner_id, licence_id=licence_id, cutoff=body.cutoff,
                                  provider=build_backend(settings).name, actor=Actor("staff", staff.id))
    return claim.respond(status_code=status.HTTP_201_CREATED, content=_detail(session, invoice))


@router.post("/v1/staff/partners/{partner_id}/invoice-now", response_model=InvoiceDetail,
             status_code=status.HTTP_201_CREATED, summary="Invoice a partner's usage up to now",
             description=INVOICE_NOW_HELP, responses=error_responses(*INVOICE_NOW_ERRORS, PartnerNotFound))
def invoice_partner_now(partner_id: str, session: SessionDep, settings: SettingsDep, staff: Finance,
                        body: InvoiceNowBody = None, idempotency_key: IdempotencyKey = None):
    return _invoice_now(session, settings, staff, scope=partner_id, key=idempotency_key, body=body,
                        partner_id=partner_id)


@router.post("/v1/staff/licences/{licence_id}/invoice-now", response_model=InvoiceDetail,
             status_code=status.HTTP_201_CREATED, summary="Invoice one licence's usage up to now",
             description=INVOICE_NOW_HELP, responses=error_responses(*INVOICE_NOW_ERRORS, LicenceNotFound))
def invoice_licence_now(licence_id: str, session: SessionDep, settings: SettingsDep, staff: Finance,
                        body: InvoiceNowBody = None, idempotency_key: IdempotencyKey = None):
    return _invoice_now(session, settings, staff, scope=licence_id, key=idempotency_key, body=body,
                        licence_id=licence_id)


@router.get("/v1/invoices", response_model=InvoicePage, summary="Your invoices",
            responses=error_responses(Unauthenticated, BadCursor))
def partner_list_invoices(
    session: SessionDep, partner: CurrentPartner, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
) -> InvoicePage:
    rows, next_cursor = invoicing.list_invoices(session, partner_id=partner.id, status=status_, cursor=cursor,
                                                limit=limit)
    return InvoicePage(items=[InvoiceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/invoices/{invoice_id}", response_model=PartnerInvoiceDetail, summary="One of your invoices",
            description="With its lines; each usage line's `usage_url` lists the deliveries it bills, so every "
                        "line can be checked against `GET /v1/usage`.",
            responses=error_responses(Unauthenticated, InvoiceNotFound))
def partner_get_invoice(invoice_id: str, session: SessionDep, partner: CurrentPartner) -> PartnerInvoiceDetail:
    invoice = invoicing.get_invoice(session, invoice_id, partner_id=partner.id)
    lines = [PartnerInvoiceLineRead.model_validate(line) for line in invoicing.get_lines(session, invoice)]
    return PartnerInvoiceDetail(**InvoiceRead.model_validate(invoice).model_dump(), lines=lines)


async def _raw_body(request: Request) -> bytes:
    return await request.body()  # the signature covers these exact bytes


_EVENT_EXAMPLE = {"id": "evt_1Pgc76B7WZ01zgkWwyRHS12y", "object": "event", "type": "invoice.paid",
                  "created": 1795000000, "data": {"object": {"id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "object": "invoice"}}}


@router.post(
    "/v1/invoicing/stripe/webhook", response_model=WebhookAck, summary="Receive a Stripe event (signed)",
    responses=error_responses(WebhookSignatureInvalid, WebhooksNotConfigured),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object"}, "example": _EVENT_EXAMPLE}}}},
)
def stripe_webhook(
    body: Annotated[bytes, Depends(_raw_body)], session: SessionDep, settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature",
                                                   description="`t=<unix time>,v1=<HMAC-SHA256>`")] = None,
) -> WebhookAck:
    event = webhooks.verify(settings, body, stripe_signature)
    new = webhooks.store_event(session, event)
    return WebhookAck(received=True, duplicate=not new)
