"""The outbox: enqueue work inside the caller's transaction; a worker delivers it afterwards.

Handlers are registered by topic (`handler`, or `sender` for network work, see dispatch.py) and
must be idempotent: a message can be delivered again if the process dies between doing the work
and marking it done. Operators see messages and revive dead ones (`list_messages`, `retry`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import utcnow
from api.core.pagination import SortOrder, sorted_page
from api.outbox.dispatch import (  # noqa: F401 - the outbox's public interface
    LEASE, RETRY_WINDOW, Capacity, Handler, Outcome, Sender, attempts_within, backoff, drain, handler, run_in_row, sender,
)
from api.outbox.models import OutboxMessage
from api.outbox.errors import BadOutboxStatus, OutboxMessageNotFound, OutboxMessageNotRetryable

STATUSES = ("pending", "done", "dead")


def enqueue(
    session: Session, topic: str, payload: dict[str, Any], *, dedupe_key: str | None = None,
    delay: timedelta | None = None, max_attempts: int = 12, lane: str | None = None,
) -> None:
    """Queue a message; with `dedupe_key`, a second message with the same key is dropped. Messages
    sharing a `lane` have a bounded number in flight at once (see dispatch.py)."""
    values = dict(
        id=OutboxMessage.model_fields["id"].get_default(call_default_factory=True),
        topic=topic, payload=payload, dedupe_key=dedupe_key, lane=lane, status="pending", attempts=0,
        max_attempts=max_attempts, next_attempt_at=utcnow() + (delay or timedelta()), created_at=utcnow(),
    )
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(OutboxMessage).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    session.execute(stmt)
    session.flush()


# --- operators: see and revive -----------------------------------------------------------------


def list_statement(*, status: str | None = None, topic: str | None = None):
    """The listing's filters; ordered by id (newest first) each combination has its own index."""
    stmt = select(OutboxMessage)
    if status is not None:
        if status not in STATUSES:
            raise BadOutboxStatus(f"Outbox status {status!r} is not one of {', '.join(STATUSES)}.")
        stmt = stmt.where(OutboxMessage.status == status)
    if topic is not None:
        stmt = stmt.where(OutboxMessage.topic == topic)
    return stmt


MESSAGE_ORDERS = {
    "newest": SortOrder("Newest first", [OutboxMessage.id], [str], descending=True),  # type: ignore[list-item]
    "next": SortOrder("Next attempt first", [OutboxMessage.next_attempt_at, OutboxMessage.id], [datetime, str]),  # type: ignore[list-item]
}


def list_messages(session: Session, *, status: str | None = None, topic: str | None = None, retrying: bool = False,
                  sort: str = "newest", cursor: str | None = None, limit: int = 50) -> tuple[list[OutboxMessage], str | None]:
    """Newest first, or by when the next attempt is due. `retrying` keeps the messages already
    tried at least once (with `status="pending"`: those failing and due again)."""
    stmt = list_statement(status=status, topic=topic)
    if retrying:
        stmt = stmt.where(OutboxMessage.attempts > 0)
    return sorted_page(session, stmt, MESSAGE_ORDERS, sort, cursor=cursor, limit=limit)


def _revive(message: OutboxMessage) -> None:
    """Due at once. A dead message starts a fresh run of attempts (backoff from the start again);
    `last_error` stays to show why it had died."""
    if message.status == "dead":
        message.status, message.attempts = "pending", 0
    message.next_attempt_at = utcnow()


def retry(session: Session, *, message_id: str, actor: Actor) -> OutboxMessage:
    """Revive a dead message, or make a pending one due now; a delivered one is refused."""
    message = session.exec(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()).first()
    if message is None:
        raise OutboxMessageNotFound(f"No outbox message {message_id}.")
    if message.status == "done":
        raise OutboxMessageNotRetryable(
            f"Outbox message {message_id} was delivered at {message.done_at.isoformat() if message.done_at else '?'}; "
            "only pending and dead messages can be retried.", message_status=message.status)
    before = {"status": message.status, "attempts": message.attempts}
    _revive(message)
    session.add(message)
    audit.record(session, actor=actor, action="outbox.retry", object_type="outbox_message", object_id=message.id,
                 before=before, after={"status": message.status, "attempts": message.attempts})
    session.flush()
    return message


def retry_dead(session: Session, *, topic: str | None = None, actor: Actor) -> list[str]:
    """Revive every dead message (of `topic`); returns their ids."""
    stmt = select(OutboxMessage).where(OutboxMessage.status == "dead").with_for_update()
    if topic is not None:
        stmt = stmt.where(OutboxMessage.topic == topic)
    revived = []
    for message in session.exec(stmt).all():
        _revive(message)
        session.add(message)
        revived.append(message.id)
    if revived:
        audit.record(session, actor=actor, action="outbox.retry_dead", object_type="outbox_message",
                     object_id=topic or "*", after={"revived": revived})
    session.flush()
    return revived
