"""Staff reports: revenue from invoices, usage from delivery records."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class MoneyTotal(BaseModel):
    currency: str = Field(description="ISO 4217.", examples=["GBP"])
    amount: int = Field(description="Minor units of `currency`.", examples=[123456])
    invoices: int = Field(description="How many invoices the amount adds up.", examples=[4])


class RevenueMonth(MoneyTotal):
    month: str = Field(description="Calendar month (UTC) the invoices were paid in, YYYY-MM.", examples=["2026-11"])


class RevenueReport(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "from": "2026-01-01", "to": "2027-01-01",
        "paid_by_month": [{"month": "2026-10", "currency": "GBP", "amount": 48000, "invoices": 2},
                          {"month": "2026-11", "currency": "EUR", "amount": 12500, "invoices": 1},
                          {"month": "2026-11", "currency": "GBP", "amount": 30000, "invoices": 1}],
        "paid": [{"currency": "EUR", "amount": 12500, "invoices": 1}, {"currency": "GBP", "amount": 78000, "invoices": 3}],
        "outstanding": [{"currency": "GBP", "amount": 25000, "invoices": 2}],
        "overdue": [{"currency": "GBP", "amount": 10000, "invoices": 1}],
    }]}, "populate_by_name": True}
    from_: date = Field(alias="from", description="First day counted (UTC).")
    to: date = Field(description="First day no longer counted (UTC).")
    paid_by_month: list[RevenueMonth] = Field(description="Paid invoices by month and currency, oldest month first.")
    paid: list[MoneyTotal] = Field(description="Paid in the range, per currency.")
    outstanding: list[MoneyTotal] = Field(description="Open or uncollectible invoices now (whatever the range): "
                                                      "what is still to be paid, per currency.")
    overdue: list[MoneyTotal] = Field(description="The part of `outstanding` past its due date now.")


class UsageCounts(BaseModel):
    deliveries: int = Field(description="Licensed copies served (every fetch).", examples=[1520])
    republications: int = Field(description="Billable republications: first fetch of an article under a licence.",
                                examples=[38])


class PartnerUsage(UsageCounts):
    partner_id: str
    partner_name: str


class LicenceUsage(UsageCounts):
    licence_id: str
    partner_id: str


class ArticleUsage(UsageCounts):
    article_id: str
    headline: str


class UsageReport(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "from": "2026-11-01", "to": "2026-12-01", "total": {"deliveries": 1520, "republications": 38},
        "by_partner": [{"partner_id": "ptn_01jdx6...", "partner_name": "Outlet Daily", "deliveries": 1200,
                        "republications": 30}],
        "by_licence": [{"licence_id": "lic_01jdx5...", "partner_id": "ptn_01jdx6...", "deliveries": 1200,
                        "republications": 30}],
        "top_articles": [{"article_id": "art_01jdx4...", "headline": "Putin and Syria", "deliveries": 640,
                          "republications": 12}],
    }]}, "populate_by_name": True}
    from_: date = Field(alias="from", description="First day counted (UTC).")
    to: date = Field(description="First day no longer counted (UTC).")
    total: UsageCounts
    by_partner: list[PartnerUsage] = Field(description="Most deliveries first, at most `limit` rows.")
    by_licence: list[LicenceUsage] = Field(description="Most deliveries first, at most `limit` rows.")
    top_articles: list[ArticleUsage] = Field(description="Most delivered articles first, at most `limit` rows.")


class DashboardFigures(BaseModel):
    """What the console's dashboard shows (not an API schema)."""

    queue_size: int
    awaiting_payment: int
    revenue_this_month: list[MoneyTotal]
    usage_this_month: UsageCounts
