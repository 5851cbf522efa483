"""Engine, session and column types shared by every domain.

The request (or the job) owns the transaction: services only ever flush.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

# Stable constraint names, so migrations can address them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


_last_id_value = 0
_id_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A prefixed, time-ordered id (`lic_01jd...`): sorting by id sorts by creation time.

    Monotonic within a process, like ULIDs: ids made in the same millisecond still sort in order.
    """
    global _last_id_value
    with _id_lock:
        value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
        if value >> 80 <= _last_id_value >> 80:
            value = _last_id_value + 1 + int.from_bytes(os.urandom(2), "big")
        _last_id_value = value
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as aware UTC datetimes, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Execution option marking a connection as a reader: see `read_only`.
READ_ONLY = "syndicate_read_only"


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None, pool_timeout: float = 30.0,
                immediate: bool = True, lock_timeout: float = 30.0) -> Engine:
    """`pool_size` connections (plus `max_overflow`, by default as many again) for a file or server
    database; a checkout that waits `pool_timeout` seconds raises sqlalchemy's TimeoutError. A
    statement that waits `lock_timeout` seconds for a lock raises OperationalError (SQLite's
    "database is locked", PostgreSQL's lock_not_available), which the API answers 503.
    `immediate=False` (SQLite only) starts transactions deferred: for readers that must not
    hold the write lock, such as a test inspecting rows while requests write."""
    pool = {"pool_size": pool_size, "max_overflow": pool_size if max_overflow is None else max_overflow,
            "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": lock_timeout},
                               **({} if in_memory else pool))
        _configure_sqlite(engine, immediate=immediate, busy_ms=round(lock_timeout * 1000))
        return engine
    # A URL that sets libpq `options` itself keeps them (connect_args would replace them).
    lock_option = {} if "options=" in url else {"options": f"-c lock_timeout={round(lock_timeout * 1000)}"}
    engine = create_engine(url, pool_pre_ping=True, connect_args=lock_option, **pool)
    _configure_postgres(engine)
    return engine


def read_only(engine: Engine) -> Engine:
    """The same engine and pool, for pure reads (readiness probe, public listings).

    On SQLite its transactions start with a deferred BEGIN, so a reader never waits for (or holds)
    the write lock that BEGIN IMMEDIATE takes; in WAL mode it reads the last committed state while a
    writer works. Writes are refused rather than silently upgraded: `PRAGMA query_only` on SQLite,
    `SET TRANSACTION READ ONLY` on PostgreSQL. Writers are unchanged.
    """
    return engine.execution_options(**{READ_ONLY: True})


def _is_reader(connection) -> bool:
    return bool(connection.get_execution_options().get(READ_ONLY))


def _configure_sqlite(engine: Engine, *, immediate: bool, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # pysqlite's own transaction handling is bypassed so that every transaction starts
        # with BEGIN IMMEDIATE: a read-then-write path can never fail to upgrade its lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        reader = _is_reader(connection)
        # query_only belongs to the pooled connection, so it is set for readers and cleared for the next writer.
        if reader != connection.info.get("query_only", False):
            connection.exec_driver_sql(f"PRAGMA query_only={int(reader)}")
            connection.info["query_only"] = reader
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate and not reader else "BEGIN")


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        if _is_reader(connection):
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work for requests (`api.deps.get_session`), jobs and CLI commands: commit on
    success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
