"""Readiness: the database answers and its schema is at the migration this code needs."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from api.core.db import read_only
from api.core.errors import DatabaseUnreachable, Unmigrated
from api.core.migrations import head_revision


def check_ready(engine: Engine, database_url: str) -> None:
    """Raise DatabaseUnreachable or Unmigrated, else return.

    The probe reads through a read-only connection: on SQLite it never waits for, or takes, the write
    lock, so a busy writer cannot make a load balancer think the service is down.
    """
    try:
        with read_only(engine).connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        # The class name says enough (OperationalError, ...); the message may name hosts and users.
        raise DatabaseUnreachable(f"The database did not answer the probe ({type(exc.orig or exc).__name__}).") from exc
    head = head_revision(database_url)
    if current != head:
        raise Unmigrated(f"The database is at migration {current or 'none'}, this version needs {head}: "
                         "run `syndicate db upgrade`.", current=current, required=head)
