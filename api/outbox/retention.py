"""Done outbox messages are deleted once `outbox_done_retention_days` have passed since delivery.

A delivered message is only history (the audit log records what it did), so it may go; dead
messages stay until an operator revives or discards them. Deleting a message frees its dedupe key:
the keys guard against the same work being queued twice while it is pending or freshly done
(a retried request, a fan-out run twice), which happens within minutes, not a retention period later.
Deletes run in batches, each its own transaction, so the claim of due messages is never held up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, Select, delete, select
from sqlmodel import col

from api.core.db import utcnow
from api.outbox.models import OutboxMessage
from api.core.periodic import periodic

BATCH = 5_000


def spent(cutoff: datetime, *, batch: int = BATCH) -> Select:
    """Ids of one batch of done messages delivered before `cutoff` (index ix_outbox_message_done)."""
    return (select(col(OutboxMessage.id))
            .where(col(OutboxMessage.status) == "done", col(OutboxMessage.done_at) < cutoff).limit(batch))


def prune_done(engine: Engine, *, retention_days: int, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete done messages delivered more than `retention_days` ago; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    removed = 0
    while True:
        with engine.begin() as connection:
            count = connection.execute(delete(OutboxMessage).where(
                col(OutboxMessage.id).in_(spent(cutoff, batch=batch)))).rowcount
        removed += count
        if count < batch:
            return removed


@periodic("outbox.retention", every_seconds=3600)
def prune_done_messages(engine: Engine) -> int:
    from api.core.config import worker_settings

    return prune_done(engine, retention_days=worker_settings().outbox_done_retention_days)
