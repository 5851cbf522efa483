from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class AuditEntry(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "audit_entry"
    # Listings run newest first by (at, id): alone, for one object, one partner or one kind of
    # object (see service.list_entries).
    __table_args__ = (
        Index("ix_audit_entry_at", "at", "id"),
        Index("ix_audit_entry_object_at", "object_id", "at", "id"),
        Index("ix_audit_entry_partner_at", "partner_id", "at", "id"),
        Index("ix_audit_entry_type_at", "object_type", "at", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("aud"), primary_key=True, max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_type: str = Field(max_length=20)  # staff | partner | system
    actor_id: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=80)
    object_type: str = Field(max_length=40)
    object_id: str = Field(max_length=40)
    partner_id: str | None = Field(default=None, max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    request_id: str | None = Field(default=None, max_length=64)
