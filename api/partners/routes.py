"""Partner registration and self-service (X-API-Key), and the licensing desk's partner admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Query, status

from api.audit.service import Actor
from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.problems import error_responses
from api.deps import CurrentPartner, SessionDep, StaffMayPartnerDetails, StaffMayPartners, sort_query
from api.partners import keys, service
from api.partners.deps import RegistrationLimiter, limit_registrations
from api.partners.models import Partner, PartnerStatus
from api.partners.schemas import (
    ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead, ContactCreate, ContactPage, ContactRead, ContactUpdate,
    PartnerCreate, PartnerDetail, PartnerPage, PartnerRead, PartnerRegistered, PartnerUpdate, StaffPartnerCreate,
    StatusChange,
)
from api.staff.errors import RoleRequired
from api.partners.errors import (
    ApiKeyNotFound, ContactEmailTaken, ContactNotFound, LastApiKey, PartnerNotFound, RegistrationRateLimited,
    TooManyApiKeys, UnknownCountry, UnknownCurrency,
)

router = APIRouter(tags=["partners"])
Licensing = StaffMayPartners
PartnerReader = StaffMayPartnerDetails
Cursor = Annotated[str | None, Query(description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]

_PARTNER_AUTH = (Unauthenticated,)
_STAFF_AUTH = (Unauthenticated, RoleRequired)
_REGISTRATION_ERRORS = (UnknownCountry, UnknownCurrency, ContactEmailTaken, ValidationFailed)
OptionalReason = Annotated[StatusChange | None, Body(openapi_examples={
    "with reason": {"summary": "With a reason for the audit trail", "value": {"reason": "Checked the outlet's masthead."}},
    "empty": {"summary": "No body", "value": {}},
})]


def install(app: FastAPI) -> None:
    """Registration counters start with the process (in memory; Redis counters outlive it)."""

    async def on_startup(app: FastAPI) -> None:
        app.state.registration_limiter = RegistrationLimiter(app.state.settings)

    app.state.startup_hooks.append(on_startup)


def _detail(session: SessionDep, partner: Partner) -> PartnerDetail:
    contacts = [ContactRead.model_validate(c) for c in service.all_contacts(session, partner_id=partner.id)]
    return PartnerDetail(**PartnerRead.model_validate(partner).model_dump(), contacts=contacts)


def _registered(session: SessionDep, partner: Partner, key, raw: str) -> PartnerRegistered:
    return PartnerRegistered(partner=_detail(session, partner),
                             api_key=ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw))


def _fields(body: PartnerCreate) -> dict:
    return dict(name=body.name, country=body.country, billing_email=str(body.billing_email), currency=body.currency,
                website=str(body.website) if body.website else None, key_name=body.key_name,
                contacts=[c.model_dump() for c in body.contacts])


# --- registration and self-service ---------------------------------------------------------------


@router.post(
    "/v1/partners/register", response_model=PartnerRegistered, status_code=status.HTTP_201_CREATED,
    summary="Register a partner organisation",
    description="Public. Creates a `pending` partner with its contacts and returns its first API key — shown "
                "only in this response. A pending partner can browse and get quotes; the licensing desk verifies it.",
    responses=error_responses(*_REGISTRATION_ERRORS, RegistrationRateLimited),
    dependencies=[Depends(limit_registrations)],
)
def register(body: PartnerCreate, session: SessionDep) -> PartnerRegistered:
    partner, key, raw = service.register_partner(session, **_fields(body))
    return _registered(session, partner, key, raw)


@router.get("/v1/partners/me", response_model=PartnerDetail, summary="Your partner account",
            responses=error_responses(*_PARTNER_AUTH))
def get_me(partner: CurrentPartner, session: SessionDep) -> PartnerDetail:
    return _detail(session, partner)


@router.patch(
    "/v1/partners/me", response_model=PartnerDetail, summary="Change your partner account",
    description="Only the fields sent change. `status` is set by the licensing desk and is refused here.",
    responses=error_responses(*_PARTNER_AUTH, UnknownCountry, UnknownCurrency, ValidationFailed),
)
def update_me(body: PartnerUpdate, partner: CurrentPartner, session: SessionDep) -> PartnerDetail:
    updated = service.update_partner(session, partner.id, changes=body.model_dump(exclude_unset=True),
                                     actor=Actor("partner", partner.id))
    return _detail(session, updated)


@router.get("/v1/partners/me/contacts", response_model=ContactPage, summary="List your contacts",
            responses=error_responses(*_PARTNER_AUTH, BadCursor, ValidationFailed))
def list_contacts(partner: CurrentPartner, session: SessionDep, cursor: Cursor = None, limit: Limit = 50) -> ContactPage:
    rows, next_cursor = service.list_contacts(session, partner_id=partner.id, cursor=cursor, limit=limit)
    return ContactPage(items=[ContactRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post("/v1/partners/me/contacts", response_model=ContactRead, status_code=status.HTTP_201_CREATED,
             summary="Add a contact", responses=error_responses(*_PARTNER_AUTH, ContactEmailTaken, ValidationFailed))
def add_contact(body: ContactCreate, partner: CurrentPartner, session: SessionDep) -> ContactRead:
    contact = service.add_contact(session, partner_id=partner.id, actor=Actor("partner", partner.id),
                                  **body.model_dump(mode="json"))
    return ContactRead.model_validate(contact)


@router.get("/v1/partners/me/contacts/{contact_id}", response_model=ContactRead, summary="One of your contacts",
            responses=error_responses(*_PARTNER_AUTH, ContactNotFound))
def get_contact(contact_id: str, partner: CurrentPartner, session: SessionDep) -> ContactRead:
    return ContactRead.model_validate(service.get_contact(session, partner_id=partner.id, contact_id=contact_id))


@router.patch("/v1/partners/me/contacts/{contact_id}", response_model=ContactRead, summary="Change a contact",
              responses=error_responses(*_PARTNER_AUTH, ContactNotFound, ContactEmailTaken, ValidationFailed))
def update_contact(contact_id: str, body: ContactUpdate, partner: CurrentPartner, session: SessionDep) -> ContactRead:
    contact = service.update_contact(session, partner_id=partner.id, contact_id=contact_id,
                                     changes=body.model_dump(mode="json", exclude_unset=True),
                                     actor=Actor("partner", partner.id))
    return ContactRead.model_validate(contact)


@router.delete("/v1/partners/me/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, response_model=None,
               summary="Remove a contact", responses=error_responses(*_PARTNER_AUTH, ContactNotFound))
def delete_contact(contact_id: str, partner: CurrentPartner, session: SessionDep) -> None:
    service.delete_contact(session, partner_id=partner.id, contact_id=contact_id, actor=Actor("partner", partner.id))


@router.get("/v1/partners/me/api-keys", response_model=ApiKeyPage, summary="List your API keys",
            description="Keys are listed by name and visible prefix; the keys themselves are never shown again.",
            responses=error_responses(*_PARTNER_AUTH, BadCursor, ValidationFailed))
def list_api_keys(partner: CurrentPartner, session: SessionDep, cursor: Cursor = None, limit: Limit = 50) -> ApiKeyPage:
    rows, next_cursor = keys.list_keys(session, partner_id=partner.id, cursor=cursor, limit=limit)
    return ApiKeyPage(items=[ApiKeyRead.model_validate(k) for k in rows], next_cursor=next_cursor)


@router.post("/v1/partners/me/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED,
             summary="Create an API key", description="The key is in this response only: store it safely.",
             responses=error_responses(*_PARTNER_AUTH, TooManyApiKeys, ValidationFailed))
def create_api_key(body: ApiKeyCreate, partner: CurrentPartner, session: SessionDep) -> ApiKeyCreated:
    key, raw = keys.create_key(session, partner_id=partner.id, name=body.name, actor=Actor("partner", partner.id))
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw)


@router.delete("/v1/partners/me/api-keys/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key",
               description="The key stops working at once. Revoking an already revoked key changes nothing.",
               responses=error_responses(*_PARTNER_AUTH, ApiKeyNotFound, LastApiKey))
def revoke_api_key(key_id: str, partner: CurrentPartner, session: SessionDep) -> ApiKeyRead:
    key = keys.revoke_key(session, partner_id=partner.id, key_id=key_id, actor=Actor("partner", partner.id))
    return ApiKeyRead.model_validate(key)


# --- the licensing desk --------------------------------------------------------------------------


@router.post("/v1/staff/partners", response_model=PartnerRegistered, status_code=status.HTTP_201_CREATED,
             summary="Create a partner (staff)",
             description="Role `licensing`. Created verified unless `verified` is false; returns the first API key once, "
                         "to hand to the partner.",
             responses=error_responses(*_STAFF_AUTH, *_REGISTRATION_ERRORS))
def staff_create_partner(body: StaffPartnerCreate, staff: Licensing, session: SessionDep) -> PartnerRegistered:
    partner, key, raw = service.register_partner(session, **_fields(body), verified=body.verified,
                                                 actor=Actor("staff", staff.id))
    return _registered(session, partner, key, raw)


@router.get("/v1/staff/partners", response_model=PartnerPage, summary="List partners (staff)",
            description="Roles `licensing` or `finance`. Newest first; filter by `status` (e.g. `pending` for the verification queue).",
            responses=error_responses(*_STAFF_AUTH, BadCursor, ValidationFailed))
def staff_list_partners(
    staff: PartnerReader, session: SessionDep, status_filter: Annotated[PartnerStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None, limit: Limit = 50, sort: Annotated[str, sort_query(service.PARTNER_ORDERS)] = "newest",
) -> PartnerPage:
    rows, next_cursor = service.list_partners(session, status=status_filter, sort=sort, cursor=cursor, limit=limit)
    return PartnerPage(items=[PartnerRead.model_validate(p) for p in rows], next_cursor=next_cursor)


@router.get("/v1/staff/partners/{partner_id}", response_model=PartnerDetail, summary="One partner (staff)",
            description="Roles `licensing` or `finance` (its billing details).",
            responses=error_responses(*_STAFF_AUTH, PartnerNotFound))
def staff_get_partner(partner_id: str, staff: PartnerReader, session: SessionDep) -> PartnerDetail:
    return _detail(session, service.get_partner(session, partner_id))


@router.post("/v1/staff/partners/{partner_id}/verify", response_model=PartnerRead, summary="Verify or reactivate a partner",
             description="Role `licensing`. Makes the partner `active` (audited) and e-mails it; already active: no change.",
             responses=error_responses(*_STAFF_AUTH, PartnerNotFound, ValidationFailed))
def staff_verify_partner(partner_id: str, staff: Licensing, session: SessionDep, body: OptionalReason = None) -> PartnerRead:
    partner = service.verify_partner(session, partner_id, actor=Actor("staff", staff.id), reason=body.reason if body else None)
    return PartnerRead.model_validate(partner)


@router.post("/v1/staff/partners/{partner_id}/suspend", response_model=PartnerRead, summary="Suspend a partner",
             description="Role `licensing`. The partner's API keys stop working at once (audited, e-mailed).",
             responses=error_responses(*_STAFF_AUTH, PartnerNotFound, ValidationFailed))
def staff_suspend_partner(partner_id: str, staff: Licensing, session: SessionDep, body: OptionalReason = None) -> PartnerRead:
    partner = service.suspend_partner(session, partner_id, actor=Actor("staff", staff.id), reason=body.reason if body else None)
    return PartnerRead.model_validate(partner)


@router.get("/v1/staff/partners/{partner_id}/api-keys", response_model=ApiKeyPage, summary="A partner's API keys (staff)",
            description="Role `licensing`.",
            responses=error_responses(*_STAFF_AUTH, PartnerNotFound, BadCursor, ValidationFailed))
def staff_list_api_keys(partner_id: str, staff: Licensing, session: SessionDep, cursor: Cursor = None,
                        limit: Limit = 50) -> ApiKeyPage:
    partner = service.get_partner(session, partner_id)
    rows, next_cursor = keys.list_keys(session, partner_id=partner.id, cursor=cursor, limit=limit)
    return ApiKeyPage(items=[ApiKeyRead.model_validate(k) for k in rows], next_cursor=next_cursor)


@router.post("/v1/staff/partners/{partner_id}/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED,
             summary="Issue an API key for a partner (staff)",
             description="Role `licensing`. The key is in this response only, to hand to the partner.",
             responses=error_responses(*_STAFF_AUTH, PartnerNotFound, TooManyApiKeys, ValidationFailed))
def staff_create_api_key(partner_id: str, body: ApiKeyCreate, staff: Licensing, session: SessionDep) -> ApiKeyCreated:
    partner = service.get_partner(session, partner_id)
    key, raw = keys.create_key(session, partner_id=partner.id, name=body.name, actor=Actor("staff", staff.id))
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw)


@router.delete("/v1/staff/partners/{partner_id}/api-keys/{key_id}", response_model=ApiKeyRead,
               summary="Revoke a partner's API key (staff)",
               description="Role `licensing`. For a leaked key: it stops working at once, even if it is the last one.",
               responses=error_responses(*_STAFF_AUTH, ApiKeyNotFound))
def staff_revoke_api_key(partner_id: str, key_id: str, staff: Licensing, session: SessionDep) -> ApiKeyRead:
    key = keys.revoke_key(session, partner_id=partner_id, key_id=key_id, actor=Actor("staff", staff.id), allow_last=True)
    return ApiKeyRead.model_validate(key)
