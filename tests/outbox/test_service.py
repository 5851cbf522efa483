"""Operators' side of the outbox: listing by key on indexes, reviving dead messages."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import select

from api.audit.models import AuditEntry
from api.audit.service import Actor
from api.core.db import session_scope
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.query_plans import statement_plan
from api.outbox.errors import BadOutboxStatus, OutboxMessageNotFound, OutboxMessageNotRetryable

OPERATOR = Actor("system", "test")


def make_messages(engine) -> dict[str, str]:
    """One message of each state, by name; returns their ids."""
    with session_scope(engine) as session:
        for name in ("pending", "done", "dead", "dead email"):
            outbox.enqueue(session, "email.send" if name == "dead email" else "test.ops", {"name": name},
                           dedupe_key=f"ops:{name}")
    with session_scope(engine) as session:
        ids = {m.payload["name"]: m.id for m in session.exec(select(OutboxMessage)).all()}
        session.execute(update(OutboxMessage).where(OutboxMessage.id == ids["done"]).values(status="done", attempts=1))
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([ids["dead"], ids["dead email"]]))
                        .values(status="dead", attempts=12, last_error="ConnectionError: gone"))
    return ids


def test_listing_filters_by_status_and_topic_newest_first(engine) -> None:
    ids = make_messages(engine)
    with session_scope(engine) as session:
        everything, _ = outbox.list_messages(session)
        assert [m.id for m in everything] == sorted(ids.values(), reverse=True)
        dead, _ = outbox.list_messages(session, status="dead")
        assert {m.id for m in dead} == {ids["dead"], ids["dead email"]}
        dead_email, _ = outbox.list_messages(session, status="dead", topic="email.send")
        assert [m.id for m in dead_email] == [ids["dead email"]]
        first, cursor = outbox.list_messages(session, topic="test.ops", limit=2)
        rest, last = outbox.list_messages(session, topic="test.ops", limit=2, cursor=cursor)
        assert [m.id for m in first + rest] == sorted([ids["pending"], ids["done"], ids["dead"]], reverse=True)
        assert last is None
        with pytest.raises(BadOutboxStatus):
            outbox.list_messages(session, status="lost")


def test_retry_revives_dead_refuses_done_and_is_audited(engine) -> None:
    ids = make_messages(engine)
    with session_scope(engine) as session:
        revived = outbox.retry(session, message_id=ids["dead"], actor=OPERATOR)
        assert (revived.status, revived.attempts, revived.last_error) == ("pending", 0, "ConnectionError: gone")
        assert outbox.retry(session, message_id=ids["pending"], actor=OPERATOR).status == "pending"
        with pytest.raises(OutboxMessageNotRetryable):
            outbox.retry(session, message_id=ids["done"], actor=OPERATOR)
        with pytest.raises(OutboxMessageNotFound):
            outbox.retry(session, message_id="obx_missing", actor=OPERATOR)
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "outbox.retry")).all()
        assert {a.object_id for a in audited} == {ids["dead"], ids["pending"]}


def test_retry_dead_revives_every_dead_message_of_a_topic(engine) -> None:
    ids = make_messages(engine)
    with session_scope(engine) as session:
        assert outbox.retry_dead(session, topic="email.send", actor=OPERATOR) == [ids["dead email"]]
        assert outbox.retry_dead(session, actor=OPERATOR) == [ids["dead"]]
        assert outbox.retry_dead(session, actor=OPERATOR) == []
        assert {m.status for m in session.exec(select(OutboxMessage)).all()} == {"pending", "done"}


@pytest.mark.parametrize(("filters", "indexes"), [
    ({"status": "dead"}, ["ix_outbox_message_status_id"]),
    ({"topic": "email.send"}, ["ix_outbox_message_topic_id"]),
    # On a near-empty table PostgreSQL may settle for either one-column index and filter the other
    # column; each still reads in id order, with no sort (SQLite must take the first).
    ({"status": "dead", "topic": "email.send"}, ["ix_outbox_message_topic_status_id", "ix_outbox_message_topic_id",
                                                 "ix_outbox_message_status_id"]),
])
def test_each_listing_reads_its_index_in_order(session, filters, indexes) -> None:
    stmt = outbox.list_statement(**filters).order_by(OutboxMessage.id.desc()).limit(51)
    plan = statement_plan(session, stmt)
    assert any(index in plan for index in indexes) and "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    if session.get_bind().dialect.name == "sqlite":
        assert indexes[0] in plan, plan
    session.rollback()
