from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow
from api.licensing.states import LicenceState, RequestState


class ScopeKind(StrEnum):
    article = "article"          # one article
    bundle = "bundle"            # a list of articles
    section_feed = "section_feed"  # everything in a section, during the period
    catalogue = "catalogue"      # the whole catalogue, during the period


class Use(StrEnum):
    web = "web"
    print = "print"
    broadcast = "broadcast"
    newsletter = "newsletter"
    app = "app"
    academic = "academic"


class BillingMode(StrEnum):
    free = "free"
    one_off = "one_off"            # one invoice (or card checkout) for the fee
    subscription = "subscription"  # recurring monthly feed fee
    usage = "usage"                # per article used, billed at period end


class LicenceTerms(SQLModel):
    """What a request asks for and a licence grants; shared by both tables."""

    scope: ScopeKind = Field(max_length=20)
    article_ids: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    section: str | None = Field(default=None, max_length=100)
    use: Use = Field(max_length=20)
    territories: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    language: str = Field(default="en", max_length=35)
    translation: bool = False
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    audience_size: int = 0
    publication_url: str | None = Field(default=None, max_length=1000)
    # Distinct articles live at a time ("5 articles at a time"); None: no cap. See api/delivery/caps.py.
    max_live_articles: int | None = None


class LicenceRequest(LicenceTerms, table=True):
    __tablename__ = "licence_request"
    # One index per list order, with the equality filter first (requests.list_for_partner, list_queue).
    __table_args__ = (
        Index("ix_licence_request_partner", "partner_id", "id"),
        Index("ix_licence_request_partner_created", "partner_id", "created_at", "id"),
        Index("ix_licence_request_partner_value", "partner_id", "quoted_amount", "id"),
        Index("ix_licence_request_queue", "state", "created_at", "id"),
        Index("ix_licence_request_queue_value", "state", "quoted_amount", "id"),
        Index("ix_licence_request_created", "created_at", "id"),
        Index("ix_licence_request_value", "quoted_amount", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("lrq"), primary_key=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    state: RequestState = Field(default=RequestState.submitted, max_length=20)
    state_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    notes: str | None = Field(default=None, max_length=2000)  # LicenceRequestCreate.notes' limit
    currency: str = Field(max_length=3)
    quoted_amount: int = 0
    quote_lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    billing_mode: BillingMode = Field(default=BillingMode.one_off, max_length=20)
    # The rate card version the quote was priced with.
    rate_card_version: int | None = None
    # Set by a counter-offer or an approval at another price.
    offered_amount: int | None = None
    conditions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    decision_reason: str | None = Field(default=None, max_length=2000)
    decided_by: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Licence(LicenceTerms, table=True):
    __tablename__ = "licence"
    __table_args__ = (
        Index("ix_licence_partner", "partner_id", "id"),
        Index("ix_licence_state", "state", "id"),
        # The expiry job (state, ends_at) and the staff list ending soonest first (licences.LICENCE_ORDERS).
        Index("ix_licence_state_ends", "state", "ends_at", "id"),
        Index("ix_licence_ends", "ends_at", "id"),
        Index("ix_licence_partner_ends", "partner_id", "ends_at", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("lic"), primary_key=True, max_length=40)
    # One licence per request, enforced by the database: two approvals cannot make two.
    request_id: str = Field(foreign_key="licence_request.id", unique=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    state: LicenceState = Field(max_length=20)
    state_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    currency: str = Field(max_length=3)
    amount: int = 0
    billing_mode: BillingMode = Field(max_length=20)
    conditions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # Deliveries allowed per calendar month under these terms; None is unlimited.
    monthly_quota: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RateCardVersion(SQLModel, table=True):
    """One row per published rate card; editing publishes a new version and never changes an old one.

    `card` is a document validated by `api.licensing.ratecard.RateCard` before it is stored.
    The current rate card is the highest version.
    """

    __tablename__ = "rate_card_version"
    __table_args__ = (UniqueConstraint("version"),)

    id: str = Field(default_factory=lambda: new_id("rcv"), primary_key=True, max_length=40)
    version: int
    card: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    note: str | None = Field(default=None, max_length=500)
    created_by: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AutoApprovalRule(SQLModel, table=True):
    """A request matching every condition of an enabled rule is approved at once, by the system.

    Empty lists mean "any" (for `billing_modes`: any mode with a bounded total, so not usage);
    a currency missing from `max_amounts` never matches.
    """

    __tablename__ = "auto_approval_rule"
    # Listed oldest first, by key (every submission reads them in that order).
    __table_args__ = (Index("ix_auto_approval_rule_created", "created_at", "id"),)

    id: str = Field(default_factory=lambda: new_id("aar"), primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    enabled: bool = True
    require_verified_partner: bool = True
    # Standard terms: the partner wrote no notes (nothing for a person to read).
    require_standard_terms: bool = True
    uses: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # Empty: one_off and subscription. Usage billing matches only when listed here.
    billing_modes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # The request's total commitment over its period (for usage: the per-article price) must be
    # at most this amount (minor units) in the request's currency.
    max_amounts: dict[str, int] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    max_audience: int | None = None
    max_months: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class LicenceAmendment(SQLModel, table=True):
    """One change of a licence's terms after approval, or one time-limited quota grant.

    `before` and `after` hold only the terms that changed. The price difference is what the
    partner owes (positive) or is owed (negative) for the change; it leaves through the outbox
    (`invoicing.settle_amendment`) and `settled_ref` records the invoice or credit that carried it.
    """

    __tablename__ = "licence_amendment"
    __table_args__ = (Index("ix_licence_amendment_licence", "licence_id", "created_at", "id"),)

    id: str = Field(default_factory=lambda: new_id("lam"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    kind: str = Field(max_length=20)  # "terms" or "quota_grant"
    before: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    after: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    reason: str = Field(max_length=2000)
    currency: str = Field(max_length=3)
    price_difference: int = 0
    # How the difference was reached (re-quote figures, or a staff override), for the audit and the partner.
    pricing_note: str | None = Field(default=None, max_length=1000)
    settled_ref: str | None = Field(default=None, max_length=255)
    created_by: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class QuotaGrant(SQLModel, table=True):
    """Extra deliveries a month on top of a licence's `monthly_quota`, from `starts_at` until `expires_at`."""

    __tablename__ = "quota_grant"
    __table_args__ = (Index("ix_quota_grant_licence", "licence_id", "expires_at"),)

    id: str = Field(default_factory=lambda: new_id("qgr"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    extra: int
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    amendment_id: str = Field(foreign_key="licence_amendment.id", max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
