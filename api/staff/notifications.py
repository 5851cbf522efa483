"""E-mail to the licensing desk (`settings.staff_notification_email`), delivered through the outbox."""

from __future__ import annotations

from sqlmodel import Session

from api.outbox.email import STAFF, enqueue_email


def notify_staff(session: Session, *, subject: str, body: str, dedupe_key: str) -> None:
    """Queue an e-mail to the licensing desk (the address is resolved when sent)."""
    enqueue_email(session, audience=STAFF, to=[], subject=subject, body=body, dedupe_key=f"{STAFF}:{dedupe_key}")
