"""E-mail, delivered through the outbox: to partners (api.partners.notifications) and to the
licensing desk (api.staff.notifications). A platform service below the domains, like the outbox.

Callers enqueue inside their own transaction (`enqueue_email`), so a message exists exactly when
the change that caused it committed. The worker's `email.send` handler then hands it to a sender
chosen by `settings.email_sender`:

* ``log``  (the embedded default) writes the message to the log;
* ``smtp`` talks to `settings.smtp_host:smtp_port`, with optional STARTTLS and login.

A sender that fails raises, and the outbox retries the message later with backoff, for three days
(`outbox.RETRY_WINDOW`); a message still undelivered then is `dead`, listed by `syndicate outbox
list --status dead` and `GET /v1/staff/outbox`, and revived by `syndicate outbox retry` or
`POST /v1/staff/outbox/{id}/retry`. The SMTP conversation runs outside any database transaction
(see api/outbox/dispatch.py).
Each message gets its Message-ID when it is queued, so every retry carries the same one and a
receiving system can drop the rare duplicate left by a worker that died between sending and
marking the message done.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

from sqlmodel import Session

from api.core.config import Settings, worker_settings
from api.outbox import service as outbox

log = logging.getLogger("syndicate.email")

TOPIC = "email.send"
# Who a message is for: the licensing desk's address is resolved when the message is sent.
STAFF = "staff"
PARTNER = "partner"


def enqueue_email(session: Session, *, audience: str, to: list[str], subject: str, body: str, dedupe_key: str,
                  partner_id: str | None = None) -> None:
    """Queue one e-mail; `dedupe_key` names the event, so queueing it twice sends one message."""
    payload: dict[str, Any] = {
        "audience": audience, "to": to, "subject": subject, "body": body, "partner_id": partner_id,
        "message_id": make_msgid(idstring=_safe_idstring(dedupe_key), domain="syndicate"),
    }
    outbox.enqueue(session, TOPIC, payload, dedupe_key=f"email:{dedupe_key}"[:200],
                   max_attempts=outbox.attempts_within(outbox.RETRY_WINDOW))


def _safe_idstring(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "." for c in key)[:120]


# --- senders -------------------------------------------------------------------------------------


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver `message` or raise."""


class LogSender:
    """The embedded default: the e-mail goes to the log, where a developer can read it."""

    def send(self, message: EmailMessage) -> None:
        log.info("e-mail to %s: %s\n%s", message["To"], message["Subject"], message.get_content())


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.starttls = settings.smtp_starttls
        self.username = settings.smtp_username
        self.password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self.timeout = settings.smtp_timeout_seconds

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(message)
        if refused:
            # Some recipients were accepted: retrying would send them a second copy, so only log.
            log.warning("SMTP server refused %s for %r", ", ".join(refused), message["Subject"])


def build_sender(settings: Settings) -> EmailSender:
    return SmtpSender(settings) if settings.email_sender == "smtp" else LogSender()


def build_message(payload: dict[str, Any], settings: Settings) -> EmailMessage:
    to = list(payload.get("to") or [])
    if payload.get("audience") == STAFF:
        to = [settings.staff_notification_email]
    if not to:
        raise ValueError("an e-mail with no recipients")
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = ", ".join(to)
    message["Subject"] = payload["subject"]
    if payload.get("message_id"):
        message["Message-ID"] = payload["message_id"]
    message.set_content(payload["body"])
    return message


@outbox.sender(TOPIC)
class EmailDelivery:
    """The worker's side of `email.send`: the SMTP conversation happens with no transaction open."""

    @property
    def timeout(self) -> float:
        return worker_settings().smtp_timeout_seconds

    def prepare(self, session: Session, payload: dict[str, Any]) -> tuple[EmailSender, EmailMessage]:
        settings = worker_settings()
        return build_sender(settings), build_message(payload, settings)

    def send(self, request: tuple[EmailSender, EmailMessage]) -> None:
        email_sender, message = request
        email_sender.send(message)

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        if outcome.final:
            log.error("e-mail %r to %s not sent after %d attempts; `syndicate outbox retry --dead` revives it",
                      payload.get("subject"), payload.get("to") or payload.get("audience"), outcome.attempt)
