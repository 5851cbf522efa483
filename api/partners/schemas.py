"""What partners and staff send and receive. Country and currency are checked against ISO 3166 and
ISO 4217 by the service (so the CLI gets the same checks and its own problem types)."""

from __future__ import annotations

from datetime import datetime

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import JsonDict

from api.core.fields import Email, Omittable, Website
from api.core.pagination import Page
from api.partners.models import PartnerStatus

_CONTACT_EXAMPLE: JsonDict = {"name": "Amira Haddad", "email": "amira@outlet.example", "role": "Syndication editor", "notify": True}
_PARTNER_EXAMPLE: JsonDict = {
    "name": "The Daily Outlet", "website": "https://outlet.example", "country": "GB",
    "billing_email": "accounts@outlet.example", "currency": "GBP", "contacts": [_CONTACT_EXAMPLE],
}
PARTNER_READ_EXAMPLE: JsonDict = {
    "id": "ptn_01jdz3k4m5n6p7q8r9s0t1v2w3", "name": "The Daily Outlet", "website": "https://outlet.example/",
    "country": "GB", "billing_email": "accounts@outlet.example", "currency": "GBP", "status": "pending",
    "verified_at": None, "created_at": "2026-11-25T12:00:00Z", "updated_at": "2026-11-25T12:00:00Z",
}
KEY_READ_EXAMPLE: JsonDict = {
    "id": "key_01jdz3k4m5n6p7q8r9s0t1v2w3", "name": "CMS plug-in", "prefix": "synd_Ab3dE9",
    "created_at": "2026-11-25T12:00:00Z", "last_used_at": None, "revoked_at": None,
}
CONTACT_READ_EXAMPLE: JsonDict = {"id": "pct_01jdz3k4m5n6p7q8r9s0t1v2w3", **_CONTACT_EXAMPLE}

Country = Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 country code, e.g. `GB`.", examples=["GB"])]
Currency = Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217 currency code, e.g. `GBP`.", examples=["GBP"])]
# In update schemas, `x: Omittable[str] = Field(default=None)` means "optional, but not null": leaving
# a field out keeps it, while sending null for a required field fails validation naming the field.


def _clean_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CONTACT_EXAMPLE]})
    name: str = Field(min_length=1, max_length=200)
    email: Email
    role: str | None = Field(default=None, max_length=100)
    notify: StrictBool = Field(default=True, description="Send this contact licensing notifications.")

    _name = field_validator("name")(_clean_name)


class ContactUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"notify": False}]})
    name: Omittable[str] = Field(default=None, min_length=1, max_length=200)
    email: Omittable[Email] = Field(default=None)
    role: str | None = Field(default=None, max_length=100)
    notify: Omittable[StrictBool] = Field(default=None)

    _name = field_validator("name")(_clean_name)


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [CONTACT_READ_EXAMPLE]})
    id: str
    name: str
    email: str
    role: str | None
    notify: bool


class PartnerCreate(BaseModel):
    """A partner organisation registering itself (or created by staff)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PARTNER_EXAMPLE]})
    name: str = Field(min_length=1, max_length=200)
    website: Website | None = Field(default=None, description="The outlet's home page (http or https).")
    country: Country
    billing_email: Email
    currency: Currency
    contacts: list[ContactCreate] = Field(default_factory=list, max_length=20)
    key_name: str = Field(default="default", min_length=1, max_length=100, description="A name for the first API key.")

    _name = field_validator("name")(_clean_name)


class StaffPartnerCreate(PartnerCreate):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**_PARTNER_EXAMPLE, "verified": True}]})
    verified: StrictBool = Field(default=True, description="Create the partner already verified (`active`).")


class PartnerUpdate(BaseModel):
    """A partner's own changes. Status is the licensing desk's to set, so it is not accepted here."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"website": "https://www.outlet.example", "billing_email": "finance@outlet.example"}]})
    name: Omittable[str] = Field(default=None, min_length=1, max_length=200)
    website: Website | None = Field(default=None, description="Send null to remove it.")
    country: Omittable[Country] = Field(default=None)
    billing_email: Omittable[Email] = Field(default=None)
    currency: Omittable[Currency] = Field(default=None)

    _name = field_validator("name")(_clean_name)


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [PARTNER_READ_EXAMPLE]})
    id: str
    name: str
    website: str | None
    country: str
    billing_email: str
    currency: str
    status: PartnerStatus
    verified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PartnerDetail(PartnerRead):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{**PARTNER_READ_EXAMPLE, "contacts": [CONTACT_READ_EXAMPLE]}]})
    contacts: list[ContactRead]


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Payment details confirmed by phone."}]})
    reason: str | None = Field(default=None, max_length=1000, description="Kept in the audit trail.")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "CMS plug-in"}]})
    name: str = Field(min_length=1, max_length=100)

    _name = field_validator("name")(_clean_name)


class ApiKeyRead(BaseModel):
    """A key as it is listed: never the key itself, only its visible prefix."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [KEY_READ_EXAMPLE]})
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    model_config = ConfigDict(json_schema_extra={"examples": [{**KEY_READ_EXAMPLE, "key": "synd_Ab3dE9..."}]})
    key: str = Field(description="The API key. It is shown only now: store it safely.")


class PartnerRegistered(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "partner": {**PARTNER_READ_EXAMPLE, "contacts": [CONTACT_READ_EXAMPLE]},
        "api_key": {**KEY_READ_EXAMPLE, "key": "synd_Ab3dE9..."},
    }]})
    partner: PartnerDetail
    api_key: ApiKeyCreated


# Pages as the lists return them. Their examples sit on the models (FastAPI would strip the nulls
# from a response-level example, leaving one its own schema refuses).
_CURSOR_EXAMPLE = "WyIyMDI2LTExLTI1VDEyOjAwOjAwKzAwOjAwIiwia2V5XzAxamR6M2s0bTVuNnA3cThyOXMwdDF2MnczIl0"


class ContactPage(Page[ContactRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [CONTACT_READ_EXAMPLE], "next_cursor": None}]})


class ApiKeyPage(Page[ApiKeyRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [KEY_READ_EXAMPLE], "next_cursor": _CURSOR_EXAMPLE}]})


class PartnerPage(Page[PartnerRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [PARTNER_READ_EXAMPLE], "next_cursor": _CURSOR_EXAMPLE}]})
