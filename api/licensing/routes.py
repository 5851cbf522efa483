"""Licensing over HTTP: the form, the rate card, quotes and requests (partners), and the
review queue, decisions and auto-approval rules (staff). Licences are in `licences_routes`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, Header, Query, Response, status
from fastapi.responses import JSONResponse
from fastapi.concurrency import run_in_threadpool

from api.audit.service import Actor
from api.core import idempotency
from api.core.errors import (
    ApiRateLimited, BadCursor, IdempotencyKeyInProgress, IdempotencyKeyInvalid, IdempotencyKeyReused,
    InvalidStateTransition, Unauthenticated, ValidationFailed,
)
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import error_responses
from api.deps import CurrentPartner, IdempotencyKey, OptionalPartner, SessionDep, SettingsDep, StaffMayLicensing, sort_query
from api.licensing import amendment_routes, desk_routes, errors, licences_routes
from api.licensing.desk_routes import etag_version, rate_card_etag
from api.licensing import service
from api.licensing.models import LicenceRequest
from api.licensing.schemas import (
    ApprovalRead, ApproveBody, AutoApprovalRuleCreate, AutoApprovalRulePage, AutoApprovalRuleRead,
    AutoApprovalRuleUpdate, CounterBody, DeclineBody, FormRead, LicenceRequestCreate, LicenceRequestPage,
    LicenceRequestRead, QuoteRead, RateCardPublish, RateCardRead, RejectBody, StaffLicenceRequestPage,
    StaffLicenceRequestRead, TermsBody,
)
from api.licensing.states import RequestState
from api.staff.errors import RoleRequired

def install(app: FastAPI) -> None:
    """Publish the default rate card when the API starts, if none is published yet, so that
    reading the form or the rate card never writes (and the first quote has prices)."""

    async def on_startup(app: FastAPI) -> None:
        await run_in_threadpool(service.seed_default_rate_card, app.state.engine)

    app.state.startup_hooks.append(on_startup)


class SchemaJSONResponse(JSONResponse):
    media_type = "application/schema+json"


FORM_SCHEMA_EXAMPLE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Licence request", "type": "object",
    "properties": {"use": {"title": "Use", "description": "Where the content will appear.", "type": "string",
                           "oneOf": [{"const": "web", "title": "Website"}, {"const": "print", "title": "Print"}]},
                   "audience_size": {"title": "Audience size", "type": "integer", "minimum": 1, "maximum": 10000000}},
    "required": ["use", "audience_size"],
}


# `router` is what the app includes; it is assembled at the bottom of this module.
router = APIRouter()
licensing = APIRouter(tags=["licensing"])
Licensing = StaffMayLicensing

Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]

TERMS_ERRORS = (
    errors.EmptyScope, errors.ScopeMismatch, errors.UnknownArticle, errors.WithdrawnArticle, errors.ArticleNotLicensable,
    errors.ArticleNotYetPublished, errors.UnknownSection, errors.UnknownTerritory, errors.UnknownLanguage,
    errors.PeriodInPast, errors.InvalidPeriod, errors.AudienceOutOfRange, errors.CurrencyNotPriced,
    errors.BillingModeNotOffered, errors.RateCardNotPublished, ValidationFailed, Unauthenticated,
)
DECISION_ERRORS = (errors.LicenceRequestNotFound, errors.RequestAlreadyDecided, errors.InvalidDecision,
                   errors.NoCounterOffer, InvalidStateTransition, ValidationFailed, Unauthenticated, RoleRequired)
PARTNER_DECISION_ERRORS = tuple(e for e in DECISION_ERRORS if e is not RoleRequired)
# What a POST with an `Idempotency-Key` may answer besides its own problems.
IDEMPOTENCY_ERRORS = (IdempotencyKeyReused, IdempotencyKeyInProgress, IdempotencyKeyInvalid)
OptionalDecline = Annotated[DeclineBody | None, Body(openapi_examples={
    "with reason": {"summary": "Say why (the desk reads it)", "value": {"reason": "Over our budget."}},
    "empty": {"summary": "No body", "value": {}},
})]
OptionalApproval = Annotated[ApproveBody | None, Body(openapi_examples={
    "as quoted": {"summary": "At the quoted (or offered) price", "value": {}},
    "other terms": {"summary": "Another price, conditions and a monthly quota",
                    "value": {"amount": 25000, "conditions": ["Credit the author in the first paragraph."],
                              "monthly_quota": 50}},
})]


def _read(session, rows: list[LicenceRequest], schema=LicenceRequestRead) -> list:
    licence_ids = service.licence_ids(session, [r.id for r in rows])
    return [schema.model_validate(r).model_copy(update={"licence_id": licence_ids.get(r.id)}) for r in rows]


def _one(session, row: LicenceRequest, schema=LicenceRequestRead):
    return _read(session, [row], schema)[0]


# --- public -----------------------------------------------------------------------------------


@licensing.get("/v1/licence-requests/form", response_model=FormRead, summary="Describe the licence request form",
               description="Fields, types, required flags, allowed options and current prices. No authentication.",
               responses=error_responses(errors.RateCardNotPublished))
def get_form(session: SessionDep) -> FormRead:
    return FormRead.model_validate(service.describe_form(session))


@licensing.get(
    "/v1/licence-requests/form/schema", summary="The licence request form as JSON Schema",
    description="The `POST /v1/licence-requests` body as JSON Schema 2020-12 (`application/schema+json`): titles, "
                "descriptions, choices as `oneOf` of `const` + `title`, limits, and the conditional rules (what each "
                "scope needs; `period_months` or `ends_at`), so a JSON-Schema form library renders it as is. "
                "No authentication.",
    response_class=SchemaJSONResponse,
    responses={200: {"content": {"application/schema+json": {"schema": {"type": "object"},
                                                              "example": FORM_SCHEMA_EXAMPLE}}},
               **error_responses(errors.RateCardNotPublished)})
def get_form_schema(session: SessionDep, settings: SettingsDep) -> SchemaJSONResponse:
    return SchemaJSONResponse(service.form_json_schema(session, base_url=settings.public_base_url))


@licensing.get("/v1/rate-card", response_model=RateCardRead, summary="The current rate card",
               description="Prices per currency (minor units) and multipliers in basis points. No authentication.",
               responses=error_responses(errors.RateCardNotPublished))
def get_rate_card(session: SessionDep, response: Response) -> RateCardRead:
    row = service.current_rate_card(session)
    response.headers["ETag"] = rate_card_etag(row.version)  # send it back as If-Match when publishing
    return RateCardRead.model_validate(row, from_attributes=True)


@licensing.get("/v1/rate-card/versions/{version}", response_model=RateCardRead, summary="A past rate card version",
               description="The rate card a quote or request was priced with (its `rate_card_version`).",
               responses=error_responses(errors.RateCardNotFound))
def get_rate_card_version(version: int, session: SessionDep) -> RateCardRead:
    return RateCardRead.model_validate(service.get_rate_card_version(session, version), from_attributes=True)


# --- partners ---------------------------------------------------------------------------------


@licensing.post("/v1/quotes", response_model=QuoteRead, summary="Price a would-be licence request",
                description="Instant, line-by-line price on the public rate card. Nothing is stored. No API key is "
                            "needed (anonymous callers are rate-limited per client address, see "
                            "`SYNDICATE_ANONYMOUS_RATE_LIMIT`) and the price is in the publisher's default currency; "
                            "with `X-API-Key` it is in your account's currency.",
                responses=error_responses(*TERMS_ERRORS, ApiRateLimited),
                # Security is optional here: the key, when sent, only picks the partner's currency.
                openapi_extra={"security": [{}]})
def create_quote(body: TermsBody, session: SessionDep, settings: SettingsDep, partner: OptionalPartner) -> QuoteRead:
    currency = partner.currency if partner else settings.default_currency
    quote = service.quote(session, body.terms(), currency=currency)
    return QuoteRead(currency=quote.currency, amount=quote.amount, billing_mode=quote.billing_mode,
                     interval=quote.interval, period_months=quote.period_months, estimated_total=quote.estimated_total,
                     rate_card_version=quote.rate_card_version, starts_at=quote.terms.starts_at,
                     ends_at=quote.terms.ends_at, territories=quote.terms.territories, language=quote.terms.language,
                     max_live_articles=quote.terms.max_live_articles, lines=[asdict(line) for line in quote.lines])


@licensing.post("/v1/licence-requests", response_model=LicenceRequestRead, status_code=status.HTTP_201_CREATED,
                summary="Request a licence",
                description="Priced with the current rate card and put in review; auto-approval rules may approve it "
                            "at once. Send an `Idempotency-Key` to retry safely: the same key and body return the first "
                            "result; the same key with another body is a 409.",
                responses=error_responses(*TERMS_ERRORS, *IDEMPOTENCY_ERRORS))
def create_request(
    body: LicenceRequestCreate, session: SessionDep, partner: CurrentPartner,
    idempotency_key: IdempotencyKey = None,
):
    claim = idempotency.claim(session, scope=f"partner:{partner.id}:licence-requests", key=idempotency_key, body=body)
    if claim.replay:
        return claim.response()
    request = service.submit_request(session, partner=partner, terms=body.terms(),
                              publication_url=str(body.publication_url) if body.publication_url else None, notes=body.notes)
    return claim.respond(status_code=status.HTTP_201_CREATED, content=_one(session, request))


@licensing.get("/v1/licence-requests", response_model=LicenceRequestPage, summary="Your licence requests",
               description="Newest first.", responses=error_responses(Unauthenticated, BadCursor, ValidationFailed))
def list_requests(session: SessionDep, partner: CurrentPartner, status: RequestState | None = None,
                  cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> LicenceRequestPage:
    rows, next_cursor = service.list_requests(session, partner_id=partner.id, state=status, cursor=cursor, limit=limit)
    return LicenceRequestPage(items=_read(session, rows), next_cursor=next_cursor)


@licensing.get("/v1/licence-requests/{request_id}", response_model=LicenceRequestRead, summary="One of your licence requests",
               responses=error_responses(errors.LicenceRequestNotFound, Unauthenticated))
def get_request(request_id: str, session: SessionDep, partner: CurrentPartner) -> LicenceRequestRead:
    return _one(session, service.get_request(session, request_id, partner_id=partner.id))


@licensing.post("/v1/licence-requests/{request_id}/accept", response_model=LicenceRequestRead,
                summary="Accept a counter-offer",
                description="Approves the request on the offered terms and grants the licence. With an `Idempotency-Key`, "
                            "a retry returns the first answer instead of a 409.",
                responses=error_responses(*PARTNER_DECISION_ERRORS, *IDEMPOTENCY_ERRORS))
def accept_counter(request_id: str, session: SessionDep, partner: CurrentPartner, idempotency_key: IdempotencyKey = None):
    claim = idempotency.claim(session, scope=f"partner:{partner.id}:accept", key=idempotency_key,
                              body={"request_id": request_id})
    if claim.replay:
        return claim.response()
    request, _licence = service.accept_counter(session, request_id, partner_id=partner.id)
    return claim.respond(status_code=status.HTTP_200_OK, content=_one(session, request))


@licensing.post("/v1/licence-requests/{request_id}/decline", response_model=LicenceRequestRead,
                summary="Decline a counter-offer", responses=error_responses(*PARTNER_DECISION_ERRORS))
def decline_counter(request_id: str, session: SessionDep, partner: CurrentPartner,
                    body: OptionalDecline = None) -> LicenceRequestRead:
    request = service.decline_counter(session, request_id, partner_id=partner.id, reason=body.reason if body else None)
    return _one(session, request)


# --- staff ------------------------------------------------------------------------------------


@licensing.get("/v1/staff/licence-requests", response_model=StaffLicenceRequestPage, summary="The review queue",
               description="Filter by status, partner or currency; sort by `age` (oldest first) or `value` (highest quote first).",
               responses=error_responses(BadCursor, ValidationFailed, Unauthenticated, RoleRequired))
def queue(session: SessionDep, staff: Licensing, status: RequestState | None = None, partner_id: str | None = None,
          currency: str | None = None, sort: Annotated[str, sort_query(service.QUEUE_ORDERS)] = "age",
          cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> StaffLicenceRequestPage:
    rows, next_cursor = service.list_queue(session, state=status, partner_id=partner_id, currency=currency, sort=sort,
                                            cursor=cursor, limit=limit)
    return StaffLicenceRequestPage(items=_read(session, rows, StaffLicenceRequestRead), next_cursor=next_cursor)


@licensing.get("/v1/staff/licence-requests/{request_id}", response_model=StaffLicenceRequestRead, summary="A licence request",
               responses=error_responses(errors.LicenceRequestNotFound, Unauthenticated, RoleRequired))
def staff_get_request(request_id: str, session: SessionDep, staff: Licensing) -> StaffLicenceRequestRead:
    return _one(session, service.get_request(session, request_id), StaffLicenceRequestRead)


@licensing.post("/v1/staff/licence-requests/{request_id}/approve", response_model=ApprovalRead, summary="Approve a request",
                description="Grants the licence: active at once when free, otherwise awaiting payment. With an "
                            "`Idempotency-Key`, a retry returns the first answer instead of a 409.",
                responses=error_responses(*DECISION_ERRORS, *IDEMPOTENCY_ERRORS))
def approve(request_id: str, session: SessionDep, staff: Licensing,
            body: OptionalApproval = None, idempotency_key: IdempotencyKey = None):
    body = body or ApproveBody()
    claim = idempotency.claim(session, scope=f"staff:{staff.id}:approve", key=idempotency_key,
                              body={"request_id": request_id, **body.model_dump(mode="json")})
    if claim.replay:
        return claim.response()
    request, licence = service.approve(session, request_id, actor=Actor("staff", staff.id), amount=body.amount,
                                         conditions=body.conditions, monthly_quota=body.monthly_quota)
    return claim.respond(status_code=status.HTTP_200_OK, content=ApprovalRead(
        request=_one(session, request, StaffLicenceRequestRead), licence_id=licence.id, licence_status=licence.state))


@licensing.post("/v1/staff/licence-requests/{request_id}/reject", response_model=StaffLicenceRequestRead,
                summary="Reject a request", responses=error_responses(*DECISION_ERRORS))
def reject(request_id: str, body: RejectBody, session: SessionDep, staff: Licensing) -> StaffLicenceRequestRead:
    request = service.reject(session, request_id, actor=Actor("staff", staff.id), reason=body.reason)
    return _one(session, request, StaffLicenceRequestRead)


@licensing.post("/v1/staff/licence-requests/{request_id}/counter", response_model=StaffLicenceRequestRead,
                summary="Counter-offer", description="Offer another price and/or conditions; the partner accepts or declines.",
                responses=error_responses(*DECISION_ERRORS))
def counter(request_id: str, body: CounterBody, session: SessionDep, staff: Licensing) -> StaffLicenceRequestRead:
    request = service.counter(session, request_id, actor=Actor("staff", staff.id), amount=body.amount,
                                conditions=body.conditions, message=body.message)
    return _one(session, request, StaffLicenceRequestRead)


@licensing.put("/v1/staff/rate-card", response_model=RateCardRead, status_code=status.HTTP_201_CREATED,
               summary="Publish a new rate card version",
               description="Send the whole card; it becomes the next version. Earlier versions stay readable. "
                           "Send `If-Match` with the `ETag` of the card you edited (GET /v1/rate-card): if a newer "
                           "version was published since, the answer is 409 naming it.",
               responses=error_responses(errors.InvalidRateCard, errors.RateCardVersionConflict, ValidationFailed,
                                         Unauthenticated, RoleRequired))
def publish_rate_card(body: RateCardPublish, session: SessionDep, staff: Licensing, response: Response,
                      if_match: Annotated[str | None, Header(description='The ETag read, e.g. "3".')] = None,
                      ) -> RateCardRead:
    row = service.publish_rate_card(session, body.card, actor=Actor("staff", staff.id), note=body.note,
                                    based_on=etag_version(if_match))
    response.headers["ETag"] = rate_card_etag(row.version)
    return RateCardRead.model_validate(row, from_attributes=True)


@licensing.get("/v1/staff/auto-approval-rules", response_model=AutoApprovalRulePage, summary="Auto-approval rules",
               description="Oldest first: the order in which a new request is tried against them.",
               responses=error_responses(BadCursor, ValidationFailed, Unauthenticated, RoleRequired))
def list_rules(session: SessionDep, staff: Licensing, cursor: Cursor = None,
               limit: Limit = DEFAULT_LIMIT) -> AutoApprovalRulePage:
    rows, next_cursor = service.list_rules(session, cursor=cursor, limit=limit)
    return AutoApprovalRulePage(items=[AutoApprovalRuleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@licensing.post("/v1/staff/auto-approval-rules", response_model=AutoApprovalRuleRead, status_code=status.HTTP_201_CREATED,
                summary="Add an auto-approval rule", responses=error_responses(ValidationFailed, Unauthenticated, RoleRequired))
def create_rule(body: AutoApprovalRuleCreate, session: SessionDep, staff: Licensing) -> AutoApprovalRuleRead:
    rule = service.create_rule(session, values=body.model_dump(exclude_none=True), actor=Actor("staff", staff.id))
    return AutoApprovalRuleRead.model_validate(rule)


@licensing.patch("/v1/staff/auto-approval-rules/{rule_id}", response_model=AutoApprovalRuleRead,
                 summary="Change an auto-approval rule",
                 responses=error_responses(errors.AutoApprovalRuleNotFound, ValidationFailed, Unauthenticated, RoleRequired))
def update_rule(rule_id: str, body: AutoApprovalRuleUpdate, session: SessionDep, staff: Licensing) -> AutoApprovalRuleRead:
    rule = service.update_rule(session, rule_id, values=body.model_dump(exclude_unset=True),
                                    actor=Actor("staff", staff.id))
    return AutoApprovalRuleRead.model_validate(rule)


@licensing.delete("/v1/staff/auto-approval-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT,
                  summary="Delete an auto-approval rule",
                  responses=error_responses(errors.AutoApprovalRuleNotFound, Unauthenticated, RoleRequired))
def delete_rule(rule_id: str, session: SessionDep, staff: Licensing) -> None:
    service.delete_rule(session, rule_id, actor=Actor("staff", staff.id))


router.include_router(licensing)
router.include_router(licences_routes.router)
router.include_router(amendment_routes.router)
router.include_router(desk_routes.router)
