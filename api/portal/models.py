from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class PortalSignIn(SQLModel, table=True):
    """A one-time sign-in link sent by e-mail. Only the token's hash is stored; a link works once."""

    __tablename__ = "portal_sign_in"

    id: str = Field(default_factory=lambda: new_id("psi"), primary_key=True, max_length=40)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    partner_id: str = Field(foreign_key="partner.id", index=True, max_length=40, ondelete="CASCADE")
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PortalSession(SQLModel, table=True):
    """Server-side record of a partner's portal sign-in, so signing out ends it at once."""

    __tablename__ = "portal_session"

    id: str = Field(default_factory=lambda: new_id("pss"), primary_key=True, max_length=40)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    partner_id: str = Field(foreign_key="partner.id", index=True, max_length=40, ondelete="CASCADE")
    email: str | None = Field(default=None, max_length=254, description="Who signed in by link; null for an API key.")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RepublishSubmission(SQLModel, table=True):
    """One row per republish form token: the primary key makes a second submit of the same form
    find the first request instead of making another."""

    __tablename__ = "republish_submission"

    form_token: str = Field(primary_key=True, max_length=64)
    request_id: str = Field(foreign_key="licence_request.id", max_length=40, ondelete="CASCADE")
    partner_id: str = Field(foreign_key="partner.id", max_length=40, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
