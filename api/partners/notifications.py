"""E-mail notifications to partners and to the licensing desk, delivered through the outbox.

Callers enqueue inside their own transaction (`notify_partner`, `notify_staff`), so a message
exists exactly when the change that caused it committed. The worker's `email.send` handler then
hands it to a sender chosen by `settings.email_sender`:

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

from sqlmodel import Session, col, select

from api.core.config import Settings, get_settings
from api.outbox import service as outbox

log = logging.getLogger("syndicate.email")

TOPIC = "email.send"
# A signed webhook event for one partner's endpoints (delivered by api.delivery.webhooks).
WEBHOOK_TOPIC = "partner.webhook_event"
STAFF = "staff"
PARTNER = "partner"


# --- enqueueing (called by services, inside the caller's transaction) -------------------------


def partner_recipients(session: Session, partner_id: str) -> list[str]:
    """The partner's billing e-mail and every contact who asked to be notified, without repeats."""
    from api.partners.models import Partner, PartnerContact

    partner = session.get(Partner, partner_id)
    if partner is None:
        return []
    contacts = session.exec(
        select(col(PartnerContact.email)).where(col(PartnerContact.partner_id) == partner_id, col(PartnerContact.notify).is_(True))
        .order_by(PartnerContact.id)
    ).all()
    seen: dict[str, str] = {}
    for address in [partner.billing_email, *contacts]:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def notify_partner(session: Session, *, partner_id: str, subject: str, body: str, dedupe_key: str) -> None:
    """Queue an e-mail to the partner's billing address and notified contacts.

    `dedupe_key` names the event (e.g. ``request.approved:lrq_...``): queueing the same key twice
    sends one e-mail.
    """
    recipients = partner_recipients(session, partner_id)
    if not recipients:
        log.warning("no recipients for partner %s; notification %r dropped", partner_id, dedupe_key)
        return
    _enqueue(session, audience=PARTNER, to=recipients, subject=subject, body=body,
             dedupe_key=f"{PARTNER}:{partner_id}:{dedupe_key}", partner_id=partner_id)


def announce(session: Session, *, partner_id: str, event_type: str, key: str, data: dict[str, Any]) -> None:
    """Queue a webhook event (`licence.cancelled`, ...) to every endpoint of the partner; `key`
    names the event, so queueing it twice sends it once."""
    outbox.enqueue(session, WEBHOOK_TOPIC, {"partner_id": partner_id, "type": event_type, "key": key, "data": data},
                   dedupe_key=f"announce:{key}"[:200], max_attempts=outbox.attempts_within(outbox.RETRY_WINDOW))


def notify_address(session: Session, *, partner_id: str, to: list[str], subject: str, body: str,
                   dedupe_key: str) -> None:
    """Queue an e-mail for one person of a partner (a sign-in link goes only to who asked for it)."""
    _enqueue(session, audience=PARTNER, to=to, subject=subject, body=body,
             dedupe_key=f"{PARTNER}:{partner_id}:{dedupe_key}", partner_id=partner_id)


def notify_staff(session: Session, *, subject: str, body: str, dedupe_key: str) -> None:
    """Queue an e-mail to the licensing desk (`settings.staff_notification_email`, resolved when sent)."""
    _enqueue(session, audience=STAFF, to=[], subject=subject, body=body, dedupe_key=f"{STAFF}:{dedupe_key}")


def _enqueue(session: Session, *, audience: str, to: list[str], subject: str, body: str, dedupe_key: str,
             partner_id: str | None = None) -> None:
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


# The worker's settings. Apps register theirs (see `configure`); a bare `syndicate worker` reads
# the environment, which is where a deployed worker's configuration lives.
_configured: Settings | None = None


def configure(settings: Settings | None) -> None:
    """Use these settings for sending (None: fall back to the environment)."""
    global _configured
    _configured = settings


def current_settings() -> Settings:
    return _configured or get_settings()


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
        return current_settings().smtp_timeout_seconds

    def prepare(self, session: Session, payload: dict[str, Any]) -> tuple[EmailSender, EmailMessage]:
        settings = current_settings()
        return build_sender(settings), build_message(payload, settings)

    def send(self, request: tuple[EmailSender, EmailMessage]) -> None:
        email_sender, message = request
        email_sender.send(message)

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        if outcome.final:
            log.error("e-mail %r to %s not sent after %d attempts; `syndicate outbox retry --dead` revives it",
                      payload.get("subject"), payload.get("to") or payload.get("audience"), outcome.attempt)
