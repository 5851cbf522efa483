"""The outbox: enqueue work inside the caller's transaction; a worker delivers it afterwards.

Handlers are registered by topic and must be idempotent: a message can be delivered again
if the process dies between doing the work and marking it done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from api.core.db import session_scope, utcnow
from api.outbox.models import OutboxMessage

log = logging.getLogger("syndicate.outbox")

Handler = Callable[[Session, dict[str, Any]], None]
_handlers: dict[str, Handler] = {}

LEASE = timedelta(minutes=2)


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the function that delivers messages of `topic`; it gets a fresh session."""

    def register(fn: Handler) -> Handler:
        _handlers[topic] = fn
        return fn

    return register


def enqueue(
    session: Session, topic: str, payload: dict[str, Any], *, dedupe_key: str | None = None,
    delay: timedelta | None = None, max_attempts: int = 12,
) -> None:
    """Queue a message; with `dedupe_key`, a second message with the same key is dropped."""
    values = dict(
        id=OutboxMessage.model_fields["id"].default_factory(),  # type: ignore[misc]
        topic=topic, payload=payload, dedupe_key=dedupe_key, status="pending", attempts=0,
        max_attempts=max_attempts, next_attempt_at=utcnow() + (delay or timedelta()), created_at=utcnow(),
    )
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(OutboxMessage).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    session.execute(stmt)
    session.flush()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** attempts, 3600))


def _claim(engine: Engine, limit: int) -> list[str]:
    now = utcnow()
    with session_scope(engine) as session:
        stmt = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .where(or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now))  # type: ignore[union-attr]
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.exec(stmt).all())
        if ids:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(locked_until=now + LEASE)  # type: ignore[attr-defined]
            )
        return ids


def drain(engine: Engine, *, limit: int = 100, topics: set[str] | None = None) -> int:
    """Deliver due messages; return how many were delivered. Safe to run in many workers at once."""
    delivered = 0
    for message_id in _claim(engine, limit):
        with session_scope(engine) as session:
            message = session.get(OutboxMessage, message_id)
            if message is None or message.status != "pending":
                continue
            if topics is not None and message.topic not in topics:
                message.locked_until = None
                continue
            fn = _handlers.get(message.topic)
            try:
                if fn is None:
                    raise LookupError(f"no handler registered for topic {message.topic!r}")
                with session.begin_nested():
                    fn(session, dict(message.payload))
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                message.attempts += 1
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                message.locked_until = None
                if message.attempts >= message.max_attempts:
                    message.status = "dead"
                    log.error("outbox %s (%s) gave up after %d attempts: %s", message.id, message.topic, message.attempts, exc)
                else:
                    message.next_attempt_at = utcnow() + backoff(message.attempts)
                    log.warning("outbox %s (%s) attempt %d failed: %s", message.id, message.topic, message.attempts, exc)
                continue
            message.status = "done"
            message.attempts += 1
            message.done_at = utcnow()
            message.locked_until = None
            delivered += 1
    return delivered


def retry_now(session: Session, *, message_ids: list[str]) -> int:
    """Make pending messages due at once (an operator's "retry now", skipping the backoff wait)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "pending")  # type: ignore[attr-defined]
        .values(next_attempt_at=utcnow(), locked_until=None)
    )
    session.flush()
    return result.rowcount or 0
