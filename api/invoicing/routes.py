"""Invoices for staff and partners, billing runs, and the Stripe webhook. Thin: services do the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, status

from api.audit.service import Actor
from api.core.errors import BadCursor, Forbidden, Unauthenticated
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import error_responses
from api.deps import CurrentPartner, EngineDep, SessionDep, SettingsDep, StaffMay
from api.invoicing import periods, webhooks
from api.invoicing import service as invoicing
from api.invoicing.models import Invoice, InvoiceStatus
from api.invoicing.schemas import (
    BillingRunAccepted, BillingRunCreate, InvoiceDetail, InvoiceLineRead, InvoicePage, InvoiceRead, MarkPaid,
    WebhookAck,
)
from billing import build_backend

router = APIRouter(tags=["billing"])
Finance = StaffMay("invoices")

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
) -> InvoicePage:
    rows, next_cursor = invoicing.list_invoices(session, partner_id=partner_id, status=status_, period=period,
                                                licence_id=licence_id, cursor=cursor, limit=limit)
    return InvoicePage(items=[InvoiceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/staff/invoices/{invoice_id}", response_model=InvoiceDetail, summary="One invoice with its lines",
            responses=error_responses(*AUTH_ERRORS, invoicing.InvoiceNotFound))
def staff_get_invoice(invoice_id: str, session: SessionDep, staff: Finance) -> InvoiceDetail:
    return _detail(session, invoicing.get_invoice(session, invoice_id))


@router.post("/v1/staff/invoices/{invoice_id}/mark-paid", response_model=InvoiceDetail,
             summary="Record a bank transfer against a ledger invoice (activates its licences)",
             responses=error_responses(*AUTH_ERRORS, invoicing.InvoiceNotFound, invoicing.InvoiceNotPayable))
def mark_paid(invoice_id: str, body: MarkPaid, session: SessionDep, staff: Finance) -> InvoiceDetail:
    invoice = invoicing.mark_paid(session, invoice_id, reference=body.reference, paid_at=body.paid_at,
                                  actor=Actor("staff", staff.id))
    return _detail(session, invoice)


@router.post("/v1/staff/billing/runs", response_model=BillingRunAccepted, status_code=status.HTTP_202_ACCEPTED,
             summary="Invoice a period's usage and fees now (repeating it is safe)",
             responses=error_responses(*AUTH_ERRORS, invoicing.BadPeriod))
def start_run(body: BillingRunCreate, engine: EngineDep, settings: SettingsDep, staff: Finance,
              background: BackgroundTasks) -> BillingRunAccepted:
    periods.parse_period(body.period)
    # After the response: the run opens its own transactions, one per partner.
    background.add_task(periods.run_period, engine, body.period, backend=build_backend(settings), settings=settings)
    return BillingRunAccepted(period=body.period, status="started")


@router.get("/v1/invoices", response_model=InvoicePage, summary="Your invoices",
            responses=error_responses(Unauthenticated, BadCursor))
def partner_list_invoices(
    session: SessionDep, partner: CurrentPartner, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
) -> InvoicePage:
    rows, next_cursor = invoicing.list_invoices(session, partner_id=partner.id, status=status_, cursor=cursor,
                                                limit=limit)
    return InvoicePage(items=[InvoiceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/invoices/{invoice_id}", response_model=InvoiceDetail, summary="One of your invoices",
            responses=error_responses(Unauthenticated, invoicing.InvoiceNotFound))
def partner_get_invoice(invoice_id: str, session: SessionDep, partner: CurrentPartner) -> InvoiceDetail:
    return _detail(session, invoicing.get_invoice(session, invoice_id, partner_id=partner.id))


async def _raw_body(request: Request) -> bytes:
    return await request.body()  # the signature covers these exact bytes


_EVENT_EXAMPLE = {"id": "evt_1Pgc76B7WZ01zgkWwyRHS12y", "object": "event", "type": "invoice.paid",
                  "created": 1795000000, "data": {"object": {"id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "object": "invoice"}}}


@router.post(
    "/v1/billing/stripe/webhook", response_model=WebhookAck, summary="Receive a Stripe event (signed)",
    responses=error_responses(webhooks.WebhookSignatureInvalid, webhooks.WebhooksNotConfigured),
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
