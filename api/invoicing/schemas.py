from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.json_schema import JsonDict

from api.core.pagination import Page
from api.invoicing.models import InvoiceKind, InvoiceStatus

_INVOICE_EXAMPLE: JsonDict = {
    "id": "inv_01jdx7k3m2q8r5t9v0w1y2z3a4", "kind": "period", "partner_id": "ptn_01jdx6...", "licence_id": None,
    "period": "2026-11", "provider": "stripe", "provider_invoice_id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
    "number": "7FE1103-0001", "status": "open", "total": 15000, "amount_due": 15000, "amount_paid": 0,
    "amount_refunded": 0, "amount_disputed": 0, "dispute_status": None, "currency": "GBP",
    "collection_method": "send_invoice", "due_at": "2026-12-31T00:00:00Z", "paid_at": None,
    "hosted_url": "https://invoice.stripe.com/i/acct_.../test_...", "usage_from": "2026-11-01T00:00:00Z",
    "usage_to": "2026-12-01T00:00:00Z", "created_at": "2026-12-01T00:05:00Z",
}


class InvoiceLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    line_key: str
    licence_id: str | None
    article_id: str | None
    description: str
    quantity: int
    unit_amount: int = Field(description="Minor units of `currency`.")
    amount: int = Field(description="quantity × unit_amount, minor units.")
    currency: str
    usage_from: datetime | None = Field(default=None, description="Usage lines: this licence's deliveries from here...")
    usage_to: datetime | None = Field(default=None, description="...up to here (exclusive).")


class InvoiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_INVOICE_EXAMPLE]})
    id: str
    kind: InvoiceKind
    partner_id: str
    licence_id: str | None
    period: str | None = Field(description="YYYY-MM for period invoices.")
    provider: str = Field(description="`stripe` or `ledger` (bank transfer).")
    provider_invoice_id: str | None
    number: str | None
    status: InvoiceStatus
    total: int = Field(description="The sum of the lines, minor units of `currency`.")
    amount_due: int = Field(description="What is to be paid: `total` less any credit balance applied, minor units.")
    amount_paid: int
    amount_refunded: int = Field(description="Refunded after payment, minor units.")
    amount_disputed: int = Field(description="Under (or lost in) a card dispute, minor units.")
    dispute_status: str | None = Field(description="The card dispute's status at Stripe (`needs_response`, "
                                                   "`under_review`, `won`, `lost`, ...); null without a dispute.")
    currency: str = Field(description="ISO 4217.")
    collection_method: str
    due_at: datetime | None
    paid_at: datetime | None
    hosted_url: str | None = Field(description="Where the partner pays (Stripe hosted invoice or Checkout).")
    usage_from: datetime | None = Field(default=None, description="Period and invoice-now invoices: the usage billed "
                                                                  "starts here (inclusive).")
    usage_to: datetime | None = Field(default=None, description="...and ends here (exclusive): the period's end or "
                                                                "the invoice-now cut-off, where the next invoice starts.")
    created_at: datetime


class InvoiceDetail(InvoiceRead):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{**_INVOICE_EXAMPLE, "lines": [{
        "id": "inl_01jdx7...", "line_key": "usage:lic_01jdx5...", "licence_id": "lic_01jdx5...", "article_id": None,
        "description": "2026-11: 3 article republication(s) under licence lic_01jdx5...", "quantity": 3,
        "unit_amount": 5000, "amount": 15000, "currency": "GBP"}]}]})
    lines: list[InvoiceLineRead]


class PartnerInvoiceLineRead(InvoiceLineRead):
    @computed_field(  # type: ignore[prop-decorator]  # pydantic's documented form
        description="Usage lines: the deliveries this line bills, one per unit of `quantity` "
                                "(`GET /v1/usage?invoice_line=<id>`, keyset pages); null for a fee line.")
    @property
    def usage_url(self) -> str | None:
        return f"/v1/usage?invoice_line={self.id}" if self.usage_from is not None else None


class PartnerInvoiceDetail(InvoiceRead):
    """An invoice as its partner reads it: each usage line links to the deliveries it bills."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{**_INVOICE_EXAMPLE, "lines": [{
        "id": "inl_01jdx7k3m2q8r5t9v0w1y2z3a4", "line_key": "usage:lic_01jdx5...", "licence_id": "lic_01jdx5...",
        "article_id": None, "description": "2026-11: 3 article republication(s) under licence lic_01jdx5...",
        "quantity": 3, "unit_amount": 5000, "amount": 15000, "currency": "GBP",
        "usage_from": "2026-11-01T00:00:00Z", "usage_to": "2026-12-01T00:00:00Z",
        "usage_url": "/v1/usage?invoice_line=inl_01jdx7k3m2q8r5t9v0w1y2z3a4"}]}]})
    lines: list[PartnerInvoiceLineRead]


class InvoicePage(Page[InvoiceRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [_INVOICE_EXAMPLE], "next_cursor": "WyJpbnZfMDFqZHg3azNtMnE4cjV0OXYwdzF5MnozYTQiXQ"}]})


class MarkPaid(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reference": "BACS 2026-12-03 MEE-INV-0042", "paid_at": "2026-12-03T10:00:00Z"}]})
    reference: str = Field(min_length=1, max_length=200, description="The bank transfer's reference.")
    paid_at: datetime | None = Field(default=None, description="When the money arrived; defaults to now.")


class InvoicingRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"period": "2026-11"}]})
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="The calendar month to invoice, YYYY-MM.")


class InvoicingRunAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"period": "2026-11", "status": "started"}]})
    period: str
    status: str = Field(description="`started`: the run continues after this answer; repeat it safely.")


class WebhookAck(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"received": True, "duplicate": False}]})
    received: bool = True
    duplicate: bool = Field(description="True when this event id was already received; it is not acted on again.")


class InvoiceNow(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"cutoff": "2026-12-15T00:00:00Z"}]})
    cutoff: datetime | None = Field(default=None, description="Bill usage before this instant (UTC, not in the "
                                                              "future); defaults to now.")


class PreviewLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    licence_id: str
    description: str
    quantity: int
    unit_amount: int = Field(description="Minor units of the partner's currency.")
    amount: int
    usage_from: datetime | None = Field(description="Usage lines: from this licence's last cut-off (or the period's start).")
    usage_to: datetime | None


class PartnerPreviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    partner_id: str
    partner_name: str
    currency: str
    total: int = Field(description="Minor units of `currency`.")
    lines: list[PreviewLineRead]


class InvoicingPreview(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "period": "2026-12", "partners": [{
            "partner_id": "ptn_01jdx6...", "partner_name": "The Daily Example", "currency": "GBP", "total": 1500,
            "lines": [{"licence_id": "lic_01jdx5...", "description": "2026-12: 3 article republication(s) under "
                       "licence lic_01jdx5... from 15 Dec 00:00 UTC", "quantity": 3, "unit_amount": 500,
                       "amount": 1500, "usage_from": "2026-12-15T00:00:00Z", "usage_to": "2027-01-01T00:00:00Z"}]}]}]})
    period: str = Field(description="The period the next run invoices, YYYY-MM.")
    partners: list[PartnerPreviewRead] = Field(description="What it would bill each partner with the usage "
                                                           "recorded so far; partners already invoiced are left out.")
