"""Request and response shapes for licensing. Checks that need the database (articles,
sections, the rate card) live in the services, so each can answer with its own problem type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.json_schema import JsonDict, JsonValue

from api.core.fields import Code, HttpUrl, Id
from api.core.pagination import Page
from api.core.times import AwareTime
from api.licensing.models import BillingMode, ScopeKind, Use
from api.licensing.quotes import TermsInput
from api.licensing.ratecard import DEFAULT_RATE_CARD, RateCard
from api.licensing.states import LicenceState, RequestState

_CARD_EXAMPLE = DEFAULT_RATE_CARD.model_dump(mode="json")
_TERMS_EXAMPLE: dict[str, Any] = {
    "scope": "bundle", "article_ids": ["art_01jdx3k2m4n5p6q7r8s9t0v1w2", "art_01jdx3k2m4n5p6q7r8s9t0v1w3"],
    "use": "web", "territories": ["GB", "FR"], "language": "en", "translation": False,
    "starts_at": "2026-12-01T00:00:00Z", "period_months": 3, "audience_size": 50000, "max_live_articles": 5,
}


Condition = Annotated[str, Field(max_length=500)]  # a list item of free text


class TermsBody(BaseModel):
    """What a partner asks for (shared by quotes and requests)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_TERMS_EXAMPLE]})
    scope: ScopeKind
    article_ids: list[Id] = Field(default_factory=list, max_length=1000,
                                   description="For scope `article` (one id) or `bundle` (several).")
    section: str | None = Field(default=None, max_length=100, description="For scope `section_feed`.")
    use: Use
    territories: list[Code] = Field(min_length=1, max_length=250, description="ISO 3166-1 alpha-2 codes.")
    language: str = Field(default="en", max_length=35, description="BCP 47 tag of the published language.")
    translation: StrictBool = Field(default=False, description="True when you translate the article into `language`.")
    starts_at: AwareTime | None = Field(default=None, description="Defaults to now; today or later.")
    period_months: int | None = Field(default=None, ge=1, description="Either this or `ends_at`.")
    ends_at: AwareTime | None = None
    audience_size: int = Field(description="Monthly readers, viewers or listeners.")
    billing_mode: BillingMode | None = Field(
        default=None, description="Feeds: `subscription` (default) or `usage` (per article used). One-off for articles.")
    max_live_articles: int | None = Field(
        default=None, ge=1, le=10_000,
        description="Distinct articles live at a time (\"5 articles at a time\"): fetching a new one beyond it "
                    "needs a copy retired first. Omit for no cap; it does not change the price.")

    def terms(self) -> TermsInput:
        return TermsInput(**self.model_dump(include=set(TermsInput.__dataclass_fields__)))


class LicenceRequestCreate(TermsBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        **_TERMS_EXAMPLE, "publication_url": "https://outlet.example/world", "notes": None}]})
    publication_url: HttpUrl | None = Field(default=None, description="Where the content will be published.")
    notes: str | None = Field(default=None, max_length=2000,
                              description="For the licensing desk; a request with notes is read by a person.")


class QuoteLineRead(BaseModel):
    code: str = Field(description="base, use, audience, territory, duration or translation.")
    label: str
    factor_bp: int | None = Field(default=None, description="Multiplier in basis points (10000 = x1.00).")
    amount: int = Field(description="What this line adds, in minor units.")
    subtotal: int


_QUOTE_LINES_EXAMPLE: list[JsonValue] = [
    {"code": "base", "label": "2 articles x 100.00 GBP", "factor_bp": None, "amount": 20000, "subtotal": 20000},
    {"code": "use", "label": "Use: Website: x1.00", "factor_bp": 10000, "amount": 0, "subtotal": 20000},
    {"code": "audience", "label": "Audience: 10,001 to 100,000 (50,000): x1.50", "factor_bp": 15000,
     "amount": 10000, "subtotal": 30000},
    {"code": "territory", "label": "Territory: Europe, Middle East and North Africa (GB, FR): x1.30",
     "factor_bp": 13000, "amount": 9000, "subtotal": 39000},
    {"code": "duration", "label": "Period: 3 months, priced as up to 3 months: x1.20", "factor_bp": 12000,
     "amount": 7800, "subtotal": 46800},
]
# A `next_cursor` as the lists return it (opaque to clients).
_CURSOR_EXAMPLE = "WyIyMDI2LTExLTI1VDEwOjAwOjAwKzAwOjAwIiwibHJxXzAxamR4M2sybTRuNXA2cTdyOHM5dDB2MXcyIl0"


def _page_of(example: dict[str, Any]) -> dict[str, Any]:
    return {"examples": [{"items": [example], "next_cursor": _CURSOR_EXAMPLE}]}


class QuoteRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "currency": "GBP", "amount": 46800, "billing_mode": "one_off", "interval": "once", "period_months": 3,
        "estimated_total": 46800, "rate_card_version": 1, "starts_at": "2026-12-01T00:00:00Z",
        "ends_at": "2027-03-01T00:00:00Z", "territories": ["GB", "FR"], "language": "en", "max_live_articles": 5,
        "lines": _QUOTE_LINES_EXAMPLE}]})
    currency: str
    amount: int = Field(description="Minor units: the fee (one_off), the monthly fee (subscription) or the price per article (usage).")
    billing_mode: BillingMode
    interval: str = Field(description="once, month or article.")
    period_months: int
    estimated_total: int | None = Field(description="Fee over the whole period; null for usage billing.")
    rate_card_version: int
    starts_at: datetime
    ends_at: datetime
    territories: list[str]
    language: str
    max_live_articles: int | None = Field(default=None, description="The cap on articles live at a time; null: none.")
    lines: list[QuoteLineRead]


class TermsRead(BaseModel):
    """The terms a request asks for and a licence grants (the same columns on both)."""

    model_config = ConfigDict(from_attributes=True)
    scope: ScopeKind
    article_ids: list[str]
    section: str | None
    use: Use
    territories: list[str]
    language: str
    translation: bool
    starts_at: datetime
    ends_at: datetime
    audience_size: int
    max_live_articles: int | None = Field(default=None, description="Distinct articles live at a time; null: no cap.")
    publication_url: str | None


# The API's words (one per idea across every object: `status`, `amount_*`) for attributes that keep
# the state machine's own names in the code (`state`, `quoted_amount`): read from either.
def _named(api_name: str, attribute: str, **field: Any) -> Any:
    return Field(validation_alias=AliasChoices(api_name, attribute), **field)


RequestStatus = Annotated[RequestState, _named("status", "state")]
LicenceStatus = Annotated[LicenceState, _named("status", "state")]
StatusChangedAt = Annotated[datetime, _named("status_changed_at", "state_changed_at")]
AmountQuoted = Annotated[int, _named("amount_quoted", "quoted_amount",
                                     description="The rate card's price for these terms, minor units.")]
AmountOffered = Annotated[int | None, _named("amount_offered", "offered_amount",
                                             description="Set by a counter-offer or an approval at another price.")]


_REQUEST_EXAMPLE: dict[str, Any] = {
    "id": "lrq_01jdx3k2m4n5p6q7r8s9t0v1w2", "partner_id": "ptn_01jdx3k2m4n5p6q7r8s9t0v1w2", "status": "in_review",
    **{k: v for k, v in _TERMS_EXAMPLE.items() if k not in ("period_months",)},
    "section": None, "ends_at": "2027-03-01T00:00:00Z", "publication_url": "https://outlet.example/world",
    "notes": None, "currency": "GBP", "amount_quoted": 46800, "quote_lines": _QUOTE_LINES_EXAMPLE,
    "billing_mode": "one_off", "rate_card_version": 1, "amount_offered": None, "conditions": [],
    "decision_reason": None, "decided_at": None, "licence_id": None, "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-25T10:00:00Z", "status_changed_at": "2026-11-25T10:00:00Z"}
_STAFF_REQUEST_EXAMPLE: dict[str, Any] = {**_REQUEST_EXAMPLE, "decided_by": None}
_APPROVED_REQUEST_EXAMPLE: dict[str, Any] = {
    **_REQUEST_EXAMPLE, "status": "approved", "conditions": ["Credit the author in the first paragraph."],
    "amount_offered": 25000, "decided_by": "stf_01jdx3k2m4n5p6q7r8s9t0v1w2", "decided_at": "2026-11-25T11:30:00Z",
    "licence_id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2", "updated_at": "2026-11-25T11:30:00Z",
    "status_changed_at": "2026-11-25T11:30:00Z"}


class LicenceRequestRead(TermsRead):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_REQUEST_EXAMPLE]})
    id: str
    partner_id: str
    status: RequestStatus
    notes: str | None
    currency: str
    amount_quoted: AmountQuoted
    quote_lines: list[QuoteLineRead]
    billing_mode: BillingMode
    rate_card_version: int | None
    amount_offered: AmountOffered
    conditions: list[str]
    decision_reason: str | None = Field(description="The rejection reason or the counter-offer's message.")
    decided_at: datetime | None
    licence_id: str | None = None
    status_changed_at: StatusChangedAt
    created_at: datetime
    updated_at: datetime


class StaffLicenceRequestRead(LicenceRequestRead):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_STAFF_REQUEST_EXAMPLE]})
    decided_by: str | None = Field(default=None, description="Staff id, partner id (counter accepted) or system name.")


class LicenceRequestPage(Page[LicenceRequestRead]):
    model_config = ConfigDict(json_schema_extra=_page_of(_REQUEST_EXAMPLE))


class StaffLicenceRequestPage(Page[StaffLicenceRequestRead]):
    model_config = ConfigDict(json_schema_extra=_page_of(_STAFF_REQUEST_EXAMPLE))


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Over our budget."}]})
    reason: str | None = Field(default=None, max_length=2000)


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {}, {"amount": 25000, "conditions": ["Credit the author in the first paragraph."]}]})
    amount: int | None = Field(default=None, ge=0, description="Another price (minor units); omit to keep the quote or offer.")
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    monthly_quota: int | None = Field(default=None, ge=1, description="Deliveries allowed per calendar month; omit for no limit.")


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "We cannot license this article in that territory."}]})
    reason: str = Field(min_length=1, max_length=2000)


class CounterBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": 0, "conditions": ["Link to the original article."], "message": "Free for academic use with a link."}]})
    amount: int | None = Field(default=None, ge=0)
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    message: str | None = Field(default=None, max_length=2000)


class ApprovalRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "request": _APPROVED_REQUEST_EXAMPLE, "licence_id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2",
        "licence_status": "awaiting_payment"}]})
    request: StaffLicenceRequestRead
    licence_id: str
    licence_status: LicenceState


_LICENCE_EXAMPLE: dict[str, Any] = {
    "id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2", "request_id": "lrq_01jdx3k2m4n5p6q7r8s9t0v1w2",
    "partner_id": "ptn_01jdx3k2m4n5p6q7r8s9t0v1w2", "status": "active", "scope": "article",
    "article_ids": ["art_01jdx3k2m4n5p6q7r8s9t0v1w2"], "section": None, "use": "web", "territories": ["GB"],
    "language": "en", "translation": False, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z",
    "audience_size": 5000, "publication_url": None, "currency": "GBP", "amount": 0, "billing_mode": "free",
    "conditions": [], "monthly_quota": None, "max_live_articles": 5, "status_changed_at": "2026-11-25T10:00:00Z",
    "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z"}


class LicenceRead(TermsRead):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_LICENCE_EXAMPLE]})
    id: str
    request_id: str
    partner_id: str
    status: LicenceStatus
    currency: str
    amount: int = Field(description="Minor units: the fee, the monthly fee, or the per-article price (usage).")
    billing_mode: BillingMode
    conditions: list[str]
    monthly_quota: int | None
    status_changed_at: StatusChangedAt
    created_at: datetime
    updated_at: datetime


class LicencePage(Page[LicenceRead]):
    model_config = ConfigDict(json_schema_extra=_page_of(_LICENCE_EXAMPLE))


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Published outside the licensed territory."}]})
    reason: str = Field(min_length=1, max_length=2000)


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "The story ran without the photo; we no longer need the licence."}]})
    reason: str | None = Field(default=None, max_length=2000,
                               description="Why; told to the partner. Staff must give one; a partner may leave it out.")


class RateCardRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "version": 2, "note": "Print up 5%", "created_at": "2026-11-25T10:00:00Z", "card": _CARD_EXAMPLE}]})
    version: int
    note: str | None
    created_at: datetime
    card: RateCard


class RateCardPublish(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "note": "Print up 5%", "card": _CARD_EXAMPLE}]})
    note: str | None = Field(default=None, max_length=500)
    card: RateCard


class FormOption(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: str
    label: str


class FormField(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    type: str
    required: bool
    description: str | None = None
    options: list[FormOption] | None = None


class FormRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fields": [{"name": "use", "type": "enum", "required": True, "description": "Where the content will appear.",
                    "options": [{"value": "web", "label": "Website", "multiplier_bp": 10000}]}],
        "rate_card_version": 1, "rate_card_published_at": "2026-11-25T10:00:00Z",
        "rate_card": {"currencies": ["GBP", "EUR", "USD"], "article_price": {"GBP": 15000, "EUR": 17500, "USD": 19000}}}]})
    fields: list[FormField]
    rate_card_version: int
    rate_card_published_at: datetime
    rate_card: dict[str, Any] = Field(description="The current rate card (see `RateCard`): prices per currency and multipliers.")


MAX_AMOUNTS_DESCRIPTION = (
    "Highest total commitment (minor units) per currency: the one-off fee, or the monthly fee times the months of "
    "the period; for usage billing (when listed in `billing_modes`) the price per article. A currency not listed "
    "never matches.")


class AutoApprovalRuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: StrictBool | None = None
    require_verified_partner: StrictBool | None = None
    require_standard_terms: StrictBool | None = Field(default=None, description="No notes and no conditions.")
    uses: list[Use] | None = Field(default=None, description="Empty: any use.")
    scopes: list[ScopeKind] | None = Field(default=None, description="Empty: any scope.")
    billing_modes: list[BillingMode] | None = Field(
        default=None, description="Empty: `one_off` and `subscription`. Usage billing has no bounded total and is "
                                  "approved only by a rule that lists `usage`.")
    max_amounts: dict[str, StrictInt] | None = Field(default=None, description=MAX_AMOUNTS_DESCRIPTION)
    # Bounded to what the rule's integer columns hold (PostgreSQL's INTEGER), so a larger number is a 422, not a 500.
    max_audience: StrictInt | None = Field(default=None, ge=1, le=2_000_000_000)
    max_months: StrictInt | None = Field(default=None, ge=1, le=1200)


_RULE_EXAMPLE: JsonDict = {"name": "Small web requests from verified partners", "enabled": True, "require_verified_partner": True,
                 "require_standard_terms": True, "uses": ["web", "newsletter"], "scopes": ["article"],
                 "billing_modes": [], "max_amounts": {"GBP": 30000, "EUR": 35000}, "max_audience": 100000, "max_months": 3}


class AutoApprovalRuleCreate(AutoApprovalRuleBase):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_RULE_EXAMPLE]})
    name: str = Field(min_length=1, max_length=200)
    max_amounts: dict[str, StrictInt] = Field(description=MAX_AMOUNTS_DESCRIPTION)


class AutoApprovalRuleUpdate(AutoApprovalRuleBase):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})


_RULE_READ_EXAMPLE: JsonDict = {"id": "aar_01jdx3k2m4n5p6q7r8s9t0v1w2", **_RULE_EXAMPLE, "created_at": "2026-11-25T10:00:00Z",
                      "updated_at": "2026-11-25T10:00:00Z"}


class AutoApprovalRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_RULE_READ_EXAMPLE]})
    id: str
    name: str
    enabled: bool
    require_verified_partner: bool
    require_standard_terms: bool
    uses: list[Use]
    scopes: list[ScopeKind]
    billing_modes: list[BillingMode]
    max_amounts: dict[str, int]
    max_audience: int | None
    max_months: int | None
    created_at: datetime
    updated_at: datetime


class AutoApprovalRulePage(Page[AutoApprovalRuleRead]):
    model_config = ConfigDict(json_schema_extra=_page_of(_RULE_READ_EXAMPLE))


_AMENDMENT_EXAMPLE: dict[str, Any] = {
    "id": "lam_01jdx3k2m4n5p6q7r8s9t0v1w2", "licence_id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2",
    "partner_id": "ptn_01jdx3k2m4n5p6q7r8s9t0v1w2", "kind": "terms",
    "before": {"ends_at": "2027-03-01T00:00:00+00:00", "territories": ["GB"]},
    "after": {"ends_at": "2027-06-01T00:00:00+00:00", "territories": ["GB", "FR"]},
    "reason": "The partner extends its coverage to France for the spring.", "currency": "GBP",
    "price_difference": 12000, "pricing_note": "Rate card v3: the terms as they were cost 240.00 GBP, as amended 360.00 GBP.",
    "settled_ref": None, "created_by": "stf_01jdx3k2m4n5p6q7r8s9t0v1w2", "created_at": "2026-12-02T09:00:00Z",
}


class LicenceAmend(BaseModel):
    """The terms to change (send only those), and why. `monthly_quota: null` lifts the limit."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "ends_at": "2027-06-01T00:00:00Z", "territories": ["GB", "FR"],
        "reason": "The partner extends its coverage to France for the spring."}]})
    ends_at: AwareTime | None = Field(default=None, description="A later (or earlier, not past) end.")
    monthly_quota: int | None = Field(default=None, ge=1, description="Deliveries a month; null for no limit.")
    territories: list[Code] | None = Field(default=None, min_length=1, max_length=250,
                                          description="ISO 3166-1 alpha-2 codes.")
    use: Use | None = None
    conditions: list[Condition] | None = Field(default=None, max_length=20)
    max_live_articles: int | None = Field(default=None, ge=1, le=10_000,
                                          description="Articles live at a time; null lifts the cap. Copies already "
                                                      "live stay live; new ones wait until fewer are live than this.")
    reason: str = Field(min_length=1, max_length=2000, description="Audited and sent to the partner.")
    price_difference: int | None = Field(
        default=None, description="Minor units; positive is invoiced, negative credited. Omit to re-quote with the rate card.")

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"reason", "price_difference"})


class QuotaGrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "extra": 500, "expires_at": "2027-03-31T23:59:59Z", "reason": "Election coverage burst.", "fee": 0}]})
    extra: int = Field(ge=1, le=10_000_000, description="Extra deliveries a month while the grant runs.")
    expires_at: AwareTime = Field(description="When the grant ends (never after the licence).")
    reason: str = Field(min_length=1, max_length=2000)
    fee: int = Field(default=0, ge=0, description="Minor units, invoiced as a one-off line; 0 for none.")


class LicenceAmendmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_AMENDMENT_EXAMPLE]})
    id: str
    licence_id: str
    partner_id: str
    kind: str = Field(description="`terms` or `quota_grant`.")
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    currency: str
    price_difference: int = Field(description="Minor units: positive invoiced, negative credited.")
    pricing_note: str | None
    settled_ref: str | None = Field(description="The invoice or provider credit that carried the difference.")
    created_by: str | None
    created_at: datetime


class LicenceAmendmentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_AMENDMENT_EXAMPLE]}]})
    items: list[LicenceAmendmentRead]


class RateCardPreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"card": _CARD_EXAMPLE}]})
    card: RateCard


class PricePreviewRead(BaseModel):
    label: str
    currency: str
    before: int | None = Field(description="Minor units on the current card; null when it does not price it.")
    after: int | None = Field(description="Minor units on the edited card.")
    interval: str


class RateCardPreviewRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "label": "One article on a UK website, 1 month", "currency": "GBP", "before": 15000, "after": 16500,
        "interval": "once"}]}]})
    items: list[PricePreviewRead]


class DryRunMatch(BaseModel):
    request_id: str
    partner_id: str
    status: RequestStatus
    currency: str
    amount_quoted: AmountQuoted
    would_approve: bool


class DryRunRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"checked": 1, "would_approve": 1, "items": [{
        "request_id": "lrq_01jdx3k2m4n5p6q7r8s9t0v1w2", "partner_id": "ptn_01jdx3k2m4n5p6q7r8s9t0v1w2",
        "status": "approved", "currency": "GBP", "amount_quoted": 15000, "would_approve": True}]}]})
    checked: int = Field(description="How many of the latest requests were tried (at most 100).")
    would_approve: int
    items: list[DryRunMatch]
