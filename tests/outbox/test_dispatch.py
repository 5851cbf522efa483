"""Delivering outbox messages: three-step senders run their network step with no transaction
open, keep their lease throughout, record every outcome, and are delivered once across workers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import select

from api.audit.service import Actor
from api.core.db import make_engine, session_scope, utcnow
from api.outbox import dispatch, service as outbox
from api.outbox.models import OutboxMessage


class Probe:
    """What the test senders were asked to do, and how they should behave."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.sent: Counter[int] = Counter()
        self.send_seconds = 0.0
        self.fail_sends = 0
        self.sending = threading.Event()
        self.release = threading.Event()  # ends a slow send at once when set
        self.lock = threading.Lock()


probe = Probe()


@outbox.sender("test.send")
class ProbeSender:
    timeout = 0.05

    def prepare(self, session, payload):
        probe.calls.append(("prepare", payload["n"]))
        if payload.get("nothing_to_do"):
            return None
        # A write in the prepare step: committed before the send starts.
        outbox.enqueue(session, "test.prepared", {"for": payload["n"]}, dedupe_key=f"prepared:{payload['n']}")
        return {"n": payload["n"]}

    def send(self, request):
        probe.sending.set()
        probe.release.wait(probe.send_seconds)
        with probe.lock:
            probe.sent[request["n"]] += 1
            if probe.fail_sends > 0:
                probe.fail_sends -= 1
                raise ConnectionError("peer unreachable")
        return "accepted"

    def record(self, session, payload, outcome):
        probe.calls.append(("record", (outcome.ok, outcome.result, outcome.attempt, outcome.final)))


handled: Counter[int] = Counter()


@outbox.handler("test.handle")
def _handle(session, payload) -> None:
    handled[payload["n"]] += 1


@pytest.fixture(autouse=True)
def _fresh_probe():
    probe.reset()
    handled.clear()
    yield


def _messages(engine, topic: str) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)).all())


def _enqueue(engine, topic: str, count: int = 1, *, max_attempts: int = 12, **payload) -> None:
    with session_scope(engine) as session:
        for n in range(count):
            outbox.enqueue(session, topic, {"n": n, **payload}, max_attempts=max_attempts)


def test_a_sender_sends_with_no_transaction_open(engine, database_url) -> None:
    probe.send_seconds = 4.0
    _enqueue(engine, "test.send")
    worker = threading.Thread(target=outbox.drain, args=(engine,), kwargs={"topics": {"test.send"}})
    worker.start()
    other = make_engine(database_url)
    try:
        assert probe.sending.wait(10)
        started = time.perf_counter()
        with session_scope(other) as session:  # another process writes while the send is under way
            outbox.enqueue(session, "test.unrelated", {})
            prepared = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "test.prepared")).all()
        assert time.perf_counter() - started < 2.0  # the send takes 4 s, or until released
        assert len(prepared) == 1  # the prepare step's writes were committed before the send began
        assert not probe.sent  # the send was still under way during the write
    finally:
        probe.release.set()
        worker.join(20)
        other.dispose()
    assert probe.calls == [("prepare", 0), ("record", (True, "accepted", 1, False))]
    [message] = _messages(engine, "test.send")
    assert (message.status, message.attempts, message.locked_until, message.lease_token) == ("done", 1, None, None)


def test_the_lease_is_renewed_while_a_slow_send_runs(engine, monkeypatch) -> None:
    """A send may outlast the lease it started with; while its worker is alive, nobody else takes it."""
    monkeypatch.setattr(dispatch, "LEASE", timedelta(seconds=0.3))
    probe.send_seconds = 1.5
    _enqueue(engine, "test.send")
    first = threading.Thread(target=outbox.drain, args=(engine,))
    first.start()
    assert probe.sending.wait(10)
    others = 0
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:  # a second worker keeps looking during the send
        others += outbox.drain(engine, topics={"test.send"})
        time.sleep(0.05)
    first.join(20)
    assert others == 0 and probe.sent == Counter({0: 1})
    assert [m.status for m in _messages(engine, "test.send")] == ["done"]


def test_a_failed_send_is_recorded_and_retried_with_backoff(engine) -> None:
    probe.fail_sends = 1
    _enqueue(engine, "test.send")
    assert outbox.drain(engine, topics={"test.send"}) == 0
    [message] = _messages(engine, "test.send")
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.next_attempt_at > utcnow() and "peer unreachable" in message.last_error
    assert probe.calls[-1] == ("record", (False, None, 1, False))
    assert outbox.drain(engine, topics={"test.send"}) == 0  # not due yet

    with session_scope(engine) as session:
        outbox.retry(session, message_id=message.id, actor=Actor.system("tests"))  # the operator's retry
    assert outbox.drain(engine, topics={"test.send"}) == 1
    assert probe.calls[-1] == ("record", (True, "accepted", 2, False))
    assert [m.status for m in _messages(engine, "test.send")] == ["done"]


def test_the_last_attempt_is_recorded_as_final_and_the_message_dies(engine) -> None:
    probe.fail_sends = 5
    _enqueue(engine, "test.send", max_attempts=1)
    outbox.drain(engine)
    assert probe.calls[-1] == ("record", (False, None, 1, True))
    assert [m.status for m in _messages(engine, "test.send")] == ["dead"]


def test_nothing_to_send_completes_the_message(engine) -> None:
    _enqueue(engine, "test.send", nothing_to_do=True)
    assert outbox.drain(engine) == 1
    assert probe.calls == [("prepare", 0)] and not probe.sent
    assert [m.status for m in _messages(engine, "test.send")] == ["done"]


def test_e_mails_and_webhooks_retry_for_three_days_with_capped_backoff() -> None:
    attempts = outbox.attempts_within(outbox.RETRY_WINDOW)
    waits = [outbox.backoff(n) for n in range(1, attempts)]
    assert sum(waits, timedelta()) <= outbox.RETRY_WINDOW < sum(waits, timedelta()) + outbox.backoff(attempts)
    assert max(waits) == timedelta(hours=1) and attempts > 12


@pytest.mark.postgres_only
def test_two_workers_draining_at_once_deliver_each_message_once(engine) -> None:
    probe.send_seconds = 0.02
    _enqueue(engine, "test.send", 30)
    _enqueue(engine, "test.handle", 30)
    start = threading.Barrier(2)
    results: list[int] = []

    def work() -> None:
        start.wait()
        total = 0
        while delivered := outbox.drain(engine, limit=5, topics={"test.send", "test.handle"}):
            total += delivered
        results.append(total)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sum(results) == 60 and all(results), results  # both took part
    assert probe.sent == Counter({n: 1 for n in range(30)}) and handled == Counter({n: 1 for n in range(30)})
    assert {m.status for m in _messages(engine, "test.send") + _messages(engine, "test.handle")} == {"done"}
