from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from api.core.db import session_scope, utcnow
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage

delivered: list[dict] = []
failures = {"left": 0}


@outbox.handler("test.echo")
def _echo(session, payload) -> None:
    if failures["left"] > 0:
        failures["left"] -= 1
        raise ConnectionError("peer unreachable")
    delivered.append(payload)


def _make_due(engine) -> None:
    with session_scope(engine) as session:
        for message in session.exec(select(OutboxMessage)).all():
            message.next_attempt_at = utcnow() - timedelta(seconds=1)


def test_message_is_delivered_once_and_deduplicated(engine) -> None:
    delivered.clear()
    with session_scope(engine) as session:
        outbox.enqueue(session, "test.echo", {"n": 1}, dedupe_key="echo-1")
        outbox.enqueue(session, "test.echo", {"n": 1}, dedupe_key="echo-1")
    assert outbox.drain(engine) == 1
    assert outbox.drain(engine) == 0
    assert delivered == [{"n": 1}]


def test_failed_delivery_is_retried_with_backoff(engine) -> None:
    delivered.clear()
    failures["left"] = 2
    with session_scope(engine) as session:
        outbox.enqueue(session, "test.echo", {"n": 2})
    assert outbox.drain(engine) == 0
    with session_scope(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
        assert message.status == "pending" and message.attempts == 1
        assert message.next_attempt_at > utcnow()
        assert "peer unreachable" in message.last_error
    assert outbox.drain(engine) == 0, "not due yet: backoff holds it back"
    _make_due(engine)
    assert outbox.drain(engine) == 0
    _make_due(engine)
    assert outbox.drain(engine) == 1
    assert delivered == [{"n": 2}]


def test_message_gives_up_after_max_attempts(engine) -> None:
    with session_scope(engine) as session:
        outbox.enqueue(session, "test.unknown-topic", {}, max_attempts=1)
    outbox.drain(engine)
    with session_scope(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
        assert message.status == "dead"
        assert "no handler" in message.last_error


def test_enqueue_rolls_back_with_its_transaction(engine) -> None:
    try:
        with session_scope(engine) as session:
            outbox.enqueue(session, "test.echo", {"n": 3})
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    with session_scope(engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []
