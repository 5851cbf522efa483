"""Done messages go after their retention; pending, dead and recently done ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text, update
from sqlmodel import select

from api.core.db import session_scope, utcnow
from api.outbox import retention
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.query_plans import statement_plan


def test_done_messages_past_retention_are_deleted_in_batches(engine) -> None:
    now = utcnow()
    ages = {"old done 1": 40, "old done 2": 31, "old done 3": 90, "fresh done": 2, "old dead": 40, "pending": 40}
    with session_scope(engine) as session:
        for name in ages:
            outbox.enqueue(session, "test.retention", {"name": name}, dedupe_key=f"retention:{name}")
    with session_scope(engine) as session:
        for message in session.exec(select(OutboxMessage)).all():
            name = message.payload["name"]
            status = "done" if "done" in name else "dead" if "dead" in name else "pending"
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
                status=status, done_at=now - timedelta(days=ages[name]) if status == "done" else None))

    assert retention.prune_done(engine, retention_days=30, now=now, batch=2) == 3

    with session_scope(engine) as session:
        left = sorted(m.payload["name"] for m in session.exec(select(OutboxMessage)).all())
    assert left == ["fresh done", "old dead", "pending"]
    assert retention.prune_done(engine, retention_days=30, now=now) == 0


def test_the_retention_batch_seeks_its_index(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Statistics of an outbox that retention has work in (a third of it done, over months):
        # on a near-empty table, with whatever statistics the run's other tests left, PostgreSQL
        # picks between the indexes led by `status` at random. Rolled back below.
        session.exec(text(
            "INSERT INTO outbox_message (id, topic, payload, status, attempts, max_attempts, created_at, "
            "next_attempt_at, dedupe_key, done_at) SELECT 'obx_plan' || g, 'test.plan', '{}', "
            "CASE WHEN g % 3 = 0 THEN 'done' ELSE 'pending' END, 0, 5, now(), now(), 'plan:' || g, "
            "CASE WHEN g % 3 = 0 THEN now() - (g || ' hours')::interval END FROM generate_series(1, 600) g"))
        session.exec(text("ANALYZE outbox_message"))
    plan = statement_plan(session, retention.spent(utcnow()))
    assert "ix_outbox_message_done" in plan, plan
    session.rollback()
