from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, Column, Index, event
from sqlalchemy import inspect as sa_inspect
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


# The database itself refuses to change or remove an entry, whatever the code does. The same
# statements are in migration 0003_licensing; TRUNCATE (PostgreSQL) fires no row trigger, so a
# test database can still be emptied, and SQLite's is emptied by dropping and re-creating the table.
APPEND_ONLY_TABLES = ("audit_entry",)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: an entry cannot be updated'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: an entry cannot be deleted'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
)
# SQLModel declares no `__table__` for the type checker; the mapper has the same Table.
AUDIT_TABLE = sa_inspect(AuditEntry).local_table
for _statement in SQLITE_TRIGGERS:
    event.listen(AUDIT_TABLE, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_TRIGGERS:  # DDL formats with %: the plpgsql placeholder is doubled
    event.listen(AUDIT_TABLE, "after_create",
                 DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"))
