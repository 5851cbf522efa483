from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.json_schema import JsonDict

from api.core.fields import Email

from api.staff.models import ROLES
from api.staff.passwords import MAX_LENGTH as MAX_PASSWORD


Role = Annotated[str, Field(max_length=40)]


class StaffLogin(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "desk@example.com", "password": "correct horse battery"}]})
    # Not EmailStr: logging in only looks the address up, and accounts on internal domains
    # (the demo's `@syndicate.local`) must be able to log in.
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class StaffReauthenticate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"password": "correct horse battery"}]})
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class StaffReauthenticated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"confirmed_until": "2026-11-02T09:05:00Z"}]})
    confirmed_until: datetime = Field(description="Admin actions are allowed with this token until then.")


class StaffPasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"current_password": "correct horse battery", "new_password": "lantern orbit quietly folded"}]})
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    new_password: str = Field(min_length=12, max_length=MAX_PASSWORD, description=(
        "12 to 128 characters, and not easy to guess (`/problems/password-rejected`)."))


class StaffToken(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdGZfMDFqZDR4OGsyIn0.c2lnbmF0dXJl",
        "token_type": "bearer", "expires_at": "2026-11-02T09:30:00Z"}]})
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "finance@example.com", "name": "Finance Desk", "password": "a long passphrase", "roles": ["finance"]}]})
    email: Email
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=12, max_length=MAX_PASSWORD, description=(
        "12 to 128 characters, and not easy to guess: common and breached passwords, and ones built from the "
        "name or e-mail, are refused (`/problems/password-rejected`)."))
    roles: list[Role] = Field(min_length=1, max_length=len(ROLES), description=f"Any of: {', '.join(ROLES)}.")


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"roles": ["licensing", "finance"]}, {"roles": ["editor"], "active": False}]})
    roles: list[Role] = Field(min_length=1, max_length=len(ROLES))
    active: StrictBool | None = None


STAFF_READ_EXAMPLE: JsonDict = {
    "id": "stf_01jd4x8k2m3n4p5q6r7s8t9v0w", "email": "finance@example.com", "name": "Finance Desk",
    "roles": ["finance"], "active": True, "created_at": "2026-11-01T09:00:00Z",
    "last_login_at": "2026-11-02T09:00:00Z",
}


class StaffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [STAFF_READ_EXAMPLE]})
    id: str
    email: str
    name: str
    roles: list[str]
    active: bool
    created_at: datetime
    last_login_at: datetime | None
