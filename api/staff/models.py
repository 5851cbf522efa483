from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow

ROLES = ("admin", "licensing", "finance", "editor")


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"
    # The staff page by name (service.STAFF_ORDERS); by e-mail reads the unique constraint's index.
    __table_args__ = (Index("ix_staff_user_name", "name", "id"),)

    id: str = Field(default_factory=lambda: new_id("stf"), primary_key=True, max_length=40)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200, repr=False)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StaffSession(SQLModel, table=True):
    """Server-side record of each staff login, so a token can be revoked before it expires.

    `expires_at` is the absolute end (login + `staff_session_absolute_hours`); the session also ends
    `staff_session_idle_minutes` after `last_seen_at`, which each request renews. `password_at` is
    when the password was last typed (the login, or a re-authentication before an admin action).
    """

    __tablename__ = "staff_session"

    id: str = Field(default_factory=lambda: new_id("sss"), primary_key=True, max_length=40)
    staff_id: str = Field(foreign_key="staff_user.id", index=True, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    password_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
