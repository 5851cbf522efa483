from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class PartnerStatus(StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"


class Partner(SQLModel, table=True):
    __tablename__ = "partner"
    # The staff list: newest first, alone or by status (service.list_partners).
    __table_args__ = (
        Index("ix_partner_created", "created_at", "id"),
        Index("ix_partner_status_created", "status", "created_at", "id"),
        # ...or by name (service.PARTNER_ORDERS).
        Index("ix_partner_name", "name", "id"),
        Index("ix_partner_status_name", "status", "name", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("ptn"), primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    website: str | None = Field(default=None, max_length=500)
    country: str = Field(max_length=2)
    billing_email: str = Field(max_length=254)
    currency: str = Field(max_length=3)
    status: PartnerStatus = Field(default=PartnerStatus.pending, max_length=12)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PartnerContact(SQLModel, table=True):
    __tablename__ = "partner_contact"
    # One contact per address per partner (addresses are stored lower-cased).
    __table_args__ = (UniqueConstraint("partner_id", "email"), Index("ix_partner_contact_partner", "partner_id", "id"))

    id: str = Field(default_factory=lambda: new_id("pct"), primary_key=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40, ondelete="CASCADE")
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    role: str | None = Field(default=None, max_length=100)
    notify: bool = True


class ApiKey(SQLModel, table=True):
    """Only a hash of the key is stored; `prefix` is what people see to tell keys apart."""

    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_partner", "partner_id", "created_at", "id"),)

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40, ondelete="CASCADE")
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=20, unique=True)
    key_hash: str = Field(max_length=64, unique=True, repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
