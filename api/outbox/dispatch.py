"""Delivering outbox messages: claim them under a lease, run each topic's handler, settle the outcome.

Two kinds of handler:

* ``handler(topic)``: a function run inside the message's own transaction (with a savepoint), for
  work that is mostly database writes. The message row stays locked for the whole call.
* ``sender(topic)``: a class in three steps for work that goes over the network (e-mail, partner
  webhooks). `prepare` runs in a short transaction and returns what to send; `send` runs with NO
  transaction open; `record` stores the outcome in a new short transaction. On SQLite every
  transaction holds the database's write lock (BEGIN IMMEDIATE), so a slow SMTP server or partner
  endpoint must never be waited on inside one.

Between the steps the message stays leased to this worker (`locked_until`, `lease_token`): the
lease is short (`Capacity.lease`, seconds), a heartbeat renews it while `send` runs, and every step
checks the lease is still its own, so no other worker takes the message meanwhile. If the process
dies mid-send the heartbeat stops, the lease runs out within seconds and another worker retries:
handlers must be idempotent (a sender can record that an attempt started, to report it as
interrupted when it sees it again).

A drain delivers up to `Capacity.concurrency` messages at once and refills free slots while any are
in flight, so one slow message never holds the others back. Messages enqueued with a `lane` (a
partner's webhook endpoint, say) have at most `Capacity.per_lane` in flight across all workers: one
lane's backlog or slow attempts never take every slot.

Retries follow `backoff` unless the sender has a `retry_delay(attempts)` schedule (webhooks follow
Standard Webhooks'); a failure whose exception carries `retry_after` (a timedelta, e.g. from a
`Retry-After` header) is not retried before it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, func, or_, update
from sqlmodel import Session, col, select

from api.core.db import session_scope, utcnow
from api.outbox.models import OutboxMessage

log = logging.getLogger("syndicate.outbox")

Handler = Callable[[Session, dict[str, Any]], None]

# How long a claimed message stays reserved unless renewed: each step re-extends it and a heartbeat
# renews it while a send runs, so a crashed worker's message is taken up again within seconds.
LEASE = timedelta(seconds=10)
HANDLER_LEASE = timedelta(minutes=2)
# The PostgreSQL advisory lock that makes claims take turns (any fixed number unique to this use).
CLAIM_LOCK = 0x5359_4E44_0B0C
# While messages are in flight, a drain looks for new due ones this often to fill free slots.
REFILL_SECONDS = 0.25
BACKOFF_CAP = timedelta(hours=1)
# E-mails and webhooks keep trying for this long (Stripe and Standard Webhooks retry for ~3 days).
RETRY_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Capacity:
    """How much one drain delivers at once (settings `outbox_concurrency`, `outbox_concurrency_per_lane`,
    `outbox_lease_seconds`)."""

    concurrency: int = 8
    per_lane: int = 2
    lease: timedelta = LEASE

    @classmethod
    def from_settings(cls, settings: Any) -> Capacity:
        return cls(settings.outbox_concurrency, settings.outbox_concurrency_per_lane,
                   timedelta(seconds=settings.outbox_lease_seconds))


@dataclass(frozen=True)
class Outcome:
    """What `Sender.send` did, handed to `Sender.record`."""

    request: Any
    result: Any = None
    error: BaseException | None = None
    attempt: int = 1  # this message's attempt number, from 1
    final: bool = False  # a failure after which the outbox gives up (the message becomes dead)

    @property
    def ok(self) -> bool:
        return self.error is None


class Sender(Protocol):
    @property
    def timeout(self) -> float:
        """Seconds a `send` may take (a class attribute or a property reading the settings)."""

    def prepare(self, session: Session, payload: dict[str, Any]) -> Any:
        """Read what the send needs (plain data, no ORM rows); None: nothing to send, the message is done."""

    def send(self, request: Any) -> Any:
        """Do the network call, without the database. Raise to fail this attempt."""

    def record(self, session: Session, payload: dict[str, Any], outcome: Outcome) -> None:
        """Store the outcome (called for successes and failures alike)."""


_handlers: dict[str, Handler] = {}
_senders: dict[str, Sender] = {}

S = TypeVar("S", bound=Sender)


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the function that delivers messages of `topic`; it gets a fresh session."""

    def register(fn: Handler) -> Handler:
        _handlers[topic] = fn
        return fn

    return register


def sender(topic: str) -> Callable[[type[S]], type[S]]:
    """Register a `Sender` class (instantiated once) for `topic`: network work outside transactions."""

    def register(cls: type[S]) -> type[S]:
        _senders[topic] = cls()
        return cls

    return register


Request = TypeVar("Request")
Result = TypeVar("Result")
Recorded = TypeVar("Recorded")


def run_in_row(engine: Engine, prepare: Callable[[Session], Request | None], send: Callable[[Request], Result],
               record: Callable[[Session, Request, Result | None], Recorded]) -> Recorded | None:
    """A sender's three steps in a row, for callers without the outbox (commands, tests): `prepare`
    and `record` each in a transaction of its own, `send` (the network call) in none, as the
    outbox runs them. A send that raises is recorded as failed (`None`), then raised again.
    Returns what `record` returns, or None when `prepare` finds nothing to send."""
    with session_scope(engine) as session:
        request = prepare(session)
    if request is None:
        return None
    try:
        result = send(request)
    except Exception:
        with session_scope(engine) as session:
            record(session, request, None)
        raise
    with session_scope(engine) as session:
        return record(session, request, result)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 30)), BACKOFF_CAP)


def attempts_within(window: timedelta) -> int:
    """The number of attempts whose backoff waits add up to `window`: a `max_attempts` for it."""
    attempts, waited = 1, timedelta()
    while waited + backoff(attempts) <= window:
        waited += backoff(attempts)
        attempts += 1
    return attempts


def claim_statement(now: Any, limit: int, topics: set[str] | None, per_lane: int):
    """Due, unleased messages, at most `per_lane` per lane counting those already in flight (leased) in
    any worker; a message without a lane is its own lane."""
    due = [OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
           or_(col(OutboxMessage.locked_until).is_(None), col(OutboxMessage.locked_until) < now)]
    if topics is not None:
        due.append(col(OutboxMessage.topic).in_(sorted(topics)))
    place = func.row_number().over(partition_by=func.coalesce(OutboxMessage.lane, OutboxMessage.id),
                                   order_by=(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id)))
    ranked = select(OutboxMessage.id, OutboxMessage.lane, OutboxMessage.next_attempt_at,
                    place.label("place")).where(*due).subquery()
    busy = (select(OutboxMessage.lane, func.count().label("in_flight"))
            .where(col(OutboxMessage.status) == "pending", col(OutboxMessage.lane).is_not(None),
                   col(OutboxMessage.locked_until) >= now)
            .group_by(OutboxMessage.lane).subquery())
    # A lane's n-th message in flight if claimed now; the lanes with the fewest in flight go first, so
    # free slots reach an idle lane before a busy (or slow) one takes a second.
    rank = ranked.c.place + func.coalesce(busy.c.in_flight, 0)
    picked = (select(ranked.c.id).outerjoin(busy, busy.c.lane == ranked.c.lane)
              .where(rank <= per_lane).order_by(rank, ranked.c.next_attempt_at).limit(limit))
    return select(col(OutboxMessage.id), col(OutboxMessage.topic)).where(col(OutboxMessage.id).in_(picked), *due)


def _claim(engine: Engine, limit: int, topics: set[str] | None, capacity: Capacity) -> tuple[str, list[tuple[str, str]]]:
    token = secrets.token_hex(16)
    with session_scope(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Claims take turns (each is one short statement pair), so each sees the leases the others
            # committed: workers share the due messages out instead of racing for the same ones, and the
            # per-lane counts hold across workers. (SQLite's BEGIN IMMEDIATE already serialises them.)
            session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
        now = utcnow()
        claimed = [(row[0], row[1]) for row in session.exec(claim_statement(now, limit, topics, capacity.per_lane)).all()]
        # A handler runs inside one transaction that row-locks its message, so no heartbeat can renew
        # its lease: it gets the long one. Senders' leases are short and renewed while they send.
        for ids, lease in (([m for m, t in claimed if t in _senders], capacity.lease),
                           ([m for m, t in claimed if t not in _senders], max(capacity.lease, HANDLER_LEASE))):
            if ids:
                session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
                                .values(locked_until=now + lease, lease_token=token))
        return token, claimed


def _lock(session: Session, message_id: str, token: str) -> OutboxMessage | None:
    """The message, row-locked, if it is still pending and still leased to `token`."""
    stmt = select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    message = session.exec(stmt.execution_options(populate_existing=True)).first()
    if message is None or message.status != "pending" or message.lease_token != token:
        return None
    return message


def _retry_delay(spec: Sender | None, attempts: int, error: BaseException) -> timedelta:
    schedule = getattr(spec, "retry_delay", None)
    delay = schedule(attempts) if schedule is not None else backoff(attempts)
    asked: timedelta | None = getattr(error, "retry_after", None)  # the receiver's "not before"
    return max(delay, asked) if asked is not None else delay


def _settle(message: OutboxMessage, error: BaseException | None, spec: Sender | None = None) -> None:
    message.attempts += 1
    message.locked_until = None
    message.lease_token = None
    if error is None:
        message.status, message.done_at = "done", utcnow()
        return
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    if message.attempts >= message.max_attempts:
        message.status = "dead"
        log.error("outbox %s (%s) gave up after %d attempts: %s", message.id, message.topic, message.attempts, error)
    else:
        message.next_attempt_at = utcnow() + _retry_delay(spec, message.attempts, error)
        log.warning("outbox %s (%s) attempt %d failed: %s", message.id, message.topic, message.attempts, error)


def _run_handler(engine: Engine, message_id: str, token: str, fn: Handler | None) -> bool:
    with session_scope(engine) as session:
        message = _lock(session, message_id, token)
        if message is None:
            return False
        error: BaseException | None = None
        try:
            if fn is None:
                raise LookupError(f"no handler registered for topic {message.topic!r}")
            with session.begin_nested():
                fn(session, dict(message.payload))
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            error = exc
        _settle(message, error)
        return error is None


class _Heartbeat:
    """Renews a lease while a send runs, so even a send slower than the lease keeps its message."""

    def __init__(self, engine: Engine, message_id: str, token: str, lease: timedelta) -> None:
        self.engine, self.message_id, self.token, self.lease = engine, message_id, token, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"outbox-lease-{message_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                with session_scope(self.engine) as session:
                    session.execute(update(OutboxMessage).where(
                        col(OutboxMessage.id) == self.message_id, col(OutboxMessage.lease_token) == self.token,
                    ).values(locked_until=utcnow() + self.lease))
            except Exception:  # noqa: BLE001 - the next beat tries again; the lease is 3 beats long
                log.exception("outbox %s: could not renew the lease", self.message_id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run_sender(engine: Engine, message_id: str, token: str, spec: Sender, lease: timedelta) -> bool:
    with session_scope(engine) as session:
        message = _lock(session, message_id, token)
        if message is None:
            return False
        payload = dict(message.payload)
        attempt = message.attempts + 1
        final = attempt >= message.max_attempts
        try:
            with session.begin_nested():
                request = spec.prepare(session, payload)
        except Exception as exc:  # noqa: BLE001
            _settle(message, exc, spec)
            return False
        if request is None:
            _settle(message, None)
            return True
        message.locked_until = utcnow() + lease

    # No transaction is open from here until the outcome is recorded.
    with _Heartbeat(engine, message_id, token, lease):
        try:
            result, error = spec.send(request), None
        except Exception as exc:  # noqa: BLE001
            result, error = None, exc
    outcome = Outcome(request, result, error, attempt, final=error is not None and final)

    with session_scope(engine) as session:
        message = _lock(session, message_id, token)
        if message is None:
            log.error("outbox %s: lease lost while sending; the outcome was not recorded", message_id)
            return False
        try:
            with session.begin_nested():
                spec.record(session, payload, outcome)
        except Exception as exc:  # noqa: BLE001 - retried: senders are idempotent
            log.exception("outbox %s: recording the outcome failed", message_id)
            error = error or exc
        _settle(message, error, spec)
        return error is None


def _deliver(engine: Engine, message_id: str, topic: str, token: str, lease: timedelta) -> bool:
    try:
        spec = _senders.get(topic)
        if spec is not None:
            return _run_sender(engine, message_id, token, spec, lease)
        return _run_handler(engine, message_id, token, _handlers.get(topic))
    except Exception:  # noqa: BLE001 - e.g. the database went away; the lease runs out and it is retried
        log.exception("outbox %s (%s): delivery failed", message_id, topic)
        return False


def drain(engine: Engine, *, limit: int = 100, topics: set[str] | None = None, capacity: Capacity = Capacity()) -> int:
    """Deliver the messages due now, up to `capacity.concurrency` at once; return how many were delivered.

    While any are in flight, free slots are filled with newly due messages (at most `limit` in all),
    so a slow one never holds up the rest; it returns once nothing it started is in flight. Safe to
    run in many workers at once."""
    delivered = started = 0
    in_flight: set[Future[bool]] = set()
    with ThreadPoolExecutor(max_workers=capacity.concurrency, thread_name_prefix="outbox") as pool:
        first = True
        while True:
            room = min(capacity.concurrency - len(in_flight), limit - started)
            if room > 0 and (first or in_flight):
                token, claimed = _claim(engine, room, topics, capacity)
                in_flight.update(pool.submit(_deliver, engine, message_id, topic, token, capacity.lease)
                                 for message_id, topic in claimed)
                started += len(claimed)
            first = False
            if not in_flight:
                return delivered
            done, in_flight = wait(in_flight, timeout=REFILL_SECONDS, return_when=FIRST_COMPLETED)
            delivered += sum(future.result() for future in done)

