"""E-mail through the outbox: recipients, the log sender, and the SMTP sender against a real SMTP
server (aiosmtpd) that goes away and comes back."""

from __future__ import annotations

import asyncio
import email
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlmodel import select

from api.core.config import configure_worker
from api.core.db import make_engine, session_scope, utcnow
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from api.partners import notifications, service
from api.partners.notifications import notify_partner
from api.staff.notifications import notify_staff
from tests.builders import TEST_ACTOR, make_partner, staff_headers
from tests.conftest import make_settings


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.delay = 0.0  # seconds to spend in DATA, like a slow or overloaded server
        self.in_data = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.in_data.set()
        await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [m["Subject"] for _, m in self.messages]


class SmtpServer:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(database_url) -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    before = configure_worker(make_settings(database_url, email_sender="smtp", smtp_host="127.0.0.1",
                                            smtp_port=server.port, smtp_timeout_seconds=5,
                                            staff_notification_email="desk@publisher.example"))
    try:
        yield server
    finally:
        configure_worker(before)
        server.stop()


@pytest.fixture
def log_sender(database_url) -> Iterator[None]:
    before = configure_worker(make_settings(database_url, email_sender="log"))
    yield
    configure_worker(before)


def email_messages(session) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.topic == "email.send").order_by(OutboxMessage.id)
    rows = list(session.exec(stmt.execution_options(populate_existing=True)).all())
    # Detach the snapshot and end the read, releasing SQLite's lock for the worker's sessions.
    for row in rows:
        session.expunge(row)
    session.rollback()
    return rows


def test_partner_recipients_are_billing_email_and_notified_contacts(session, engine) -> None:
    partner = make_partner(session)
    service.add_contact(session, partner_id=partner.id, name="Muted", email="muted@outlet.example", notify=False,
                        actor=TEST_ACTOR)
    service.add_contact(session, partner_id=partner.id, name="Billing again", email=partner.billing_email.upper(),
                        actor=TEST_ACTOR)
    notify_partner(session, partner_id=partner.id, subject="Hello", body="Body", dedupe_key="hello")
    notify_partner(session, partner_id=partner.id, subject="Hello", body="Body", dedupe_key="hello")
    session.commit()
    messages = email_messages(session)
    assert len(messages) == 1  # the same dedupe key queues one e-mail
    to = messages[0].payload["to"]
    assert to[0] == partner.billing_email and "muted@outlet.example" not in to
    assert len(to) == 2 and to[1].startswith("editor")  # the builder's contact; the upper-cased billing copy is folded


def test_log_sender_writes_the_message_to_the_log(session, engine, log_sender, caplog) -> None:
    notify_staff(session, subject="New request", body="Please review lrq_1.", dedupe_key="request.submitted:lrq_1")
    session.commit()
    with caplog.at_level(logging.INFO, logger="syndicate.email"):
        assert outbox.drain(engine) == 1
    assert "New request" in caplog.text and "Please review lrq_1." in caplog.text
    assert [m.status for m in email_messages(session)] == ["done"]


def test_verification_and_suspension_are_emailed_to_the_partner(session) -> None:
    partner = make_partner(session, verified=False)
    service.verify_partner(session, partner.id, actor=TEST_ACTOR)
    service.verify_partner(session, partner.id, actor=TEST_ACTOR)  # already active: no second e-mail
    service.suspend_partner(session, partner.id, actor=TEST_ACTOR, reason="Unpaid invoices")
    session.commit()
    subjects = [m.payload["subject"] for m in email_messages(session)]
    assert subjects == ["Your Syndicate partner account is verified", "Your Syndicate partner account is suspended"]


def test_smtp_sender_delivers_and_retries_until_the_server_is_back(session, engine, smtp_server) -> None:
    partner = make_partner(session)
    notify_partner(session, partner_id=partner.id, subject="Request approved", body="Your licence is ready.",
                   dedupe_key="request.approved:lrq_1")
    notify_staff(session, subject="New request", body="Please review.", dedupe_key="request.submitted:lrq_1")
    expected_recipients = notifications.partner_recipients(session, partner.id)
    session.commit()
    assert len(expected_recipients) == 2

    assert outbox.drain(engine) == 2
    by_subject = {m["Subject"]: (rcpts, m) for rcpts, m in smtp_server.inbox.messages}
    rcpts, message = by_subject["Request approved"]
    assert rcpts == expected_recipients and message["To"] == ", ".join(expected_recipients)
    assert message["From"] == "licensing@syndicate.local" and "Your licence is ready." in message.get_content()
    assert message["Message-ID"]
    assert by_subject["New request"][0] == ["desk@publisher.example"]

    # The server goes away: the message stays pending and is retried later, with backoff.
    smtp_server.stop()
    notify_partner(session, partner_id=partner.id, subject="Counter-offer", body="We propose 120.00 GBP.",
                   dedupe_key="request.countered:lrq_1")
    session.commit()
    before = utcnow()
    assert outbox.drain(engine) == 0
    failed = [m for m in email_messages(session) if m.payload["subject"] == "Counter-offer"][0]
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.next_attempt_at > before and failed.last_error
    assert outbox.drain(engine) == 0  # not due yet: nothing is attempted
    assert [m for m in email_messages(session) if m.id == failed.id][0].attempts == 1

    # The server is back; skip the backoff wait and drain again: delivered exactly once.
    smtp_server.start()
    assert outbox.retry(session, message_id=failed.id, actor=TEST_ACTOR).status == "pending"  # the operator's retry
    session.commit()
    assert outbox.drain(engine) == 1
    assert outbox.drain(engine) == 0
    assert smtp_server.inbox.subjects().count("Counter-offer") == 1
    delivered = [m for m in email_messages(session) if m.id == failed.id][0]
    assert (delivered.status, delivered.attempts) == ("done", 2)


def test_verifying_over_http_emails_the_partner_through_the_apps_sender(client, session, engine, caplog) -> None:
    licensing = staff_headers(client, session, roles=["licensing"])
    registered = client.post("/v1/partners/register", json={
        "name": "Mail Outlet", "country": "GB", "billing_email": "accounts@mail.example", "currency": "GBP",
        "contacts": [{"name": "Ed", "email": "ed@mail.example"}, {"name": "Quiet", "email": "quiet@mail.example", "notify": False}],
    }).json()
    assert client.post(f"/v1/staff/partners/{registered['partner']['id']}/verify", headers=licensing).status_code == 200
    with caplog.at_level(logging.INFO, logger="syndicate.email"):
        assert outbox.drain(engine) == 2  # the desk's "new registration" and the partner's "verified"
    verified = [r.getMessage() for r in caplog.records if "account is verified" in r.getMessage()]
    assert len(verified) == 1 and "accounts@mail.example, ed@mail.example:" in verified[0]
    assert "quiet@mail.example" not in caplog.text


def _unrelated_write_seconds(database_url: str) -> float:
    """How long a small write transaction takes from another connection (another API worker)."""
    other = make_engine(database_url)
    try:
        started = time.perf_counter()
        with session_scope(other) as session:
            notify_staff(session, subject="Unrelated", body="A write by someone else.", dedupe_key=f"unrelated:{started}")
        return time.perf_counter() - started
    finally:
        other.dispose()


def test_a_slow_smtp_server_does_not_hold_the_database(session, engine, smtp_server, database_url) -> None:
    """The SMTP conversation runs with no transaction open: on SQLite an open transaction holds the
    write lock, and every other writer would wait for the mail server."""
    smtp_server.inbox.delay = 4.0
    notify_staff(session, subject="Slow", body="Takes a while.", dedupe_key="slow")
    session.commit()
    drained: list[int] = []
    worker = threading.Thread(target=lambda: drained.append(outbox.drain(engine, topics={"email.send"})))
    worker.start()
    try:
        assert smtp_server.inbox.in_data.wait(10), "the worker never reached the SMTP server's DATA"
        assert _unrelated_write_seconds(database_url) < 2.0  # the server stays in DATA for 4 s
    finally:
        worker.join(20)
    # The drain filled its free slots while the slow one was in DATA: the unrelated e-mail went out too.
    assert drained == [2] and sorted(smtp_server.inbox.subjects()) == ["Slow", "Unrelated"]


def _fail_once_more(engine) -> None:
    """One more failed attempt, without waiting out the backoff."""
    with session_scope(engine) as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.status == "pending").values(next_attempt_at=utcnow()))
    assert outbox.drain(engine) == 0


def test_an_smtp_outage_of_days_is_survived_and_a_dead_email_revived(session, engine, smtp_server) -> None:
    from api.audit.service import Actor

    smtp_server.stop()
    notify_staff(session, subject="Outage", body="Sent once the server is back.", dedupe_key="outage")
    session.commit()
    for _ in range(12):  # the old limit: 12 attempts, about 68 minutes of outage
        _fail_once_more(engine)
    [message] = email_messages(session)
    assert (message.status, message.attempts) == ("pending", 12)
    waits = sum((outbox.backoff(n) for n in range(1, message.max_attempts)), timedelta())
    assert outbox.RETRY_WINDOW - timedelta(hours=1) <= waits <= outbox.RETRY_WINDOW  # it keeps trying for three days

    while email_messages(session)[0].status == "pending":
        _fail_once_more(engine)
    [dead] = email_messages(session)
    assert (dead.status, dead.attempts) == ("dead", dead.max_attempts) and "Connection refused" in dead.last_error

    smtp_server.start()
    assert outbox.drain(engine) == 0  # dead stays dead until someone revives it
    outbox.retry(session, message_id=dead.id, actor=Actor("system", "test"))
    session.commit()
    assert outbox.drain(engine) == 1
    assert outbox.drain(engine) == 0
    assert smtp_server.inbox.subjects() == ["Outage"]
    assert email_messages(session)[0].status == "done"
