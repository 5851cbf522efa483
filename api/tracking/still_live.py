"""Copies still live after a kill: a sighting of a copy after its article was withdrawn, or after
its licence was revoked or expired, opens a case (one per licence and page while it is open).

The partner is told when the case opens (an e-mail and a signed `copy.still_live` webhook naming
the page and the reason) and again once a day while the page is still being seen; the case closes
itself once the page has gone unseen for `still_live_quiet_days`, and staff can close it with a note.
Everything here runs only for killed copies: a live copy's hit never reaches this module's queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.audit.service import Actor
from api.catalogue.models import Article
from api.core.db import utcnow
from api.core.pagination import keyset_page
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.partners import notifications
from api.tracking.errors import StillLiveCaseClosed, StillLiveCaseNotFound, StillLiveNoteMissing
from api.tracking.models import StillLiveCase

EVENT_TYPE = "copy.still_live"
RENOTIFY_EVERY = timedelta(days=1)
REASONS = {
    "article_withdrawn": "the article was withdrawn",
    "licence_revoked": "the licence was revoked",
    "licence_expired": "the licence has expired",
}


@dataclass(frozen=True)
class Kill:
    reason: str  # a key of REASONS


def kill_of(*, licence_state: str, licence_ends_at: datetime, article_status: str, now: datetime) -> Kill | None:
    """Why a copy should no longer be displayed, or None while it may be. Read from the cached
    licence and article views, so a live copy's hit costs no query here."""
    if article_status == "withdrawn":
        return Kill("article_withdrawn")
    if licence_state == LicenceState.revoked:
        return Kill("licence_revoked")
    if licence_state == LicenceState.expired or licence_ends_at <= now:
        return Kill("licence_expired")
    return None


def _killed_at(session: Session, *, reason: str, licence: Licence, article_id: str) -> datetime:
    if reason == "article_withdrawn":
        article = session.get(Article, article_id)
        if article is not None and article.withdrawn_at is not None:
            return article.withdrawn_at
    if reason == "licence_expired":
        return min(licence.ends_at, licence.state_changed_at) if licence.state == LicenceState.expired else licence.ends_at
    return licence.state_changed_at


def note_sighting(session: Session, *, licence_id: str, article_id: str, page_url: str, kill: Kill, view: bool,
                  now: datetime | None = None) -> StillLiveCase | None:
    """Add a killed copy's sighting to its open case, or open one (and tell the partner)."""
    now = now or utcnow()
    views = 1 if view else 0
    added = session.exec(
        update(StillLiveCase)
        .where(col(StillLiveCase.licence_id) == licence_id, col(StillLiveCase.page_url) == page_url,
               col(StillLiveCase.closed_at).is_(None))
        .values(hits=StillLiveCase.hits + 1, views=StillLiveCase.views + views, last_seen_at=now))
    if added.rowcount:
        session.flush()
        return None
    licence = session.get(Licence, licence_id)
    if licence is None:
        return None
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    case_id = StillLiveCase.model_fields["id"].get_default(call_default_factory=True)
    opened = session.exec(insert(StillLiveCase).values(
        id=case_id, licence_id=licence_id, article_id=article_id, partner_id=licence.partner_id, page_url=page_url,
        reason=kill.reason, killed_at=_killed_at(session, reason=kill.reason, licence=licence, article_id=article_id),
        opened_at=now, last_seen_at=now, hits=1, views=views, notifications=0,
    ).on_conflict_do_nothing(index_elements=["licence_id", "page_url"], index_where=text("closed_at IS NULL")))
    if not opened.rowcount:  # opened meanwhile by a concurrent hit, which tells the partner
        session.flush()
        return None
    case = session.get(StillLiveCase, case_id)
    assert case is not None
    audit.record(session, actor=Actor.system("beacon"), action="still_live.opened", object_type="still_live_case",
                 object_id=case.id, partner_id=case.partner_id,
                 after={"page_url": page_url, "reason": kill.reason, "licence_id": licence_id, "article_id": article_id})
    _notify(session, case, now=now)
    return case


def _event_data(session: Session, case: StillLiveCase, *, now: datetime) -> dict[str, Any]:
    article = session.get(Article, case.article_id)
    return {
        "case_id": case.id, "version": case.notifications, "occurred_at": now.isoformat(),
        "licence_id": case.licence_id, "article_id": case.article_id,
        "headline": article.headline if article else None, "page_url": case.page_url, "reason": case.reason,
        "killed_at": case.killed_at.isoformat(), "still_live_since": case.opened_at.isoformat(),
        "last_seen_at": case.last_seen_at.isoformat(), "views_since_kill": case.views,
        "action_required": "Remove this copy from the page: " + REASONS[case.reason] + ".",
    }


def _notify(session: Session, case: StillLiveCase, *, now: datetime) -> None:
    """One e-mail and one webhook per notice; the notice number in their keys makes a repeat send nothing."""
    case.notifications += 1
    case.notified_at = now
    session.add(case)
    session.flush()
    data = _event_data(session, case, now=now)
    key = f"{EVENT_TYPE}:{case.id}:{case.notifications}"
    again = "" if case.notifications == 1 else f" (notice {case.notifications})"
    headline = data["headline"] or case.article_id
    body = (f"A copy of \u201c{headline}\u201d is still displayed at\n\n  {case.page_url}\n\n"
            f"although {REASONS[case.reason]} on {case.killed_at:%d %B %Y %H:%M} UTC. It was seen there "
            f"{case.views} time{'s' if case.views != 1 else ''} since, most recently {case.last_seen_at:%d %B %Y %H:%M} UTC.\n\n"
            f"Please remove it. We will remind you each day it is still seen; the case closes by itself once the "
            f"page stops showing it.\n\nLicence {case.licence_id}, case {case.id}.")
    notifications.notify_partner(session, partner_id=case.partner_id, subject=f"Still live: {headline}{again}",
                                 body=body, dedupe_key=key)
    notifications.announce(session, partner_id=case.partner_id, event_type=EVENT_TYPE, key=key, data=data)


def renotify_due(session: Session, *, now: datetime | None = None) -> int:
    """Tell the partner again about every open case seen since its last notice a day or more ago."""
    now = now or utcnow()
    due = session.exec(select(StillLiveCase).where(
        StillLiveCase.closed_at.is_(None),  # type: ignore[union-attr]
        StillLiveCase.notified_at <= now - RENOTIFY_EVERY,  # type: ignore[operator]
        StillLiveCase.last_seen_at > StillLiveCase.notified_at,  # type: ignore[operator]
    ).order_by(StillLiveCase.id)).all()
    for case in due:
        _notify(session, case, now=now)
    return len(due)


def close_quiet(session: Session, *, quiet_for: timedelta, now: datetime | None = None) -> int:
    """Close every open case whose page has not been seen for `quiet_for`."""
    now = now or utcnow()
    quiet = session.exec(select(StillLiveCase).where(
        col(StillLiveCase.closed_at).is_(None), col(StillLiveCase.last_seen_at) <= now - quiet_for,
    ).order_by(col(StillLiveCase.id))).all()
    days = quiet_for / timedelta(days=1)
    for case in quiet:
        _close(session, case, actor=Actor.system("worker"), note=f"Not seen for {days:g} days.", now=now)
    return len(quiet)


def close_case(session: Session, *, case_id: str, note: str, actor: Actor) -> StillLiveCase:
    note = note.strip()
    if not note:
        raise StillLiveNoteMissing("Write a note saying why the case is closed.")
    case = get_case(session, case_id)
    if case.closed_at is not None:
        raise StillLiveCaseClosed(f"Case {case.id} was already closed {case.closed_at.isoformat()}.",
                                  closed_at=case.closed_at.isoformat())
    return _close(session, case, actor=actor, note=note, now=utcnow())


def _close(session: Session, case: StillLiveCase, *, actor: Actor, note: str, now: datetime) -> StillLiveCase:
    case.closed_at, case.closed_by, case.close_note = now, actor.id if actor.type == "staff" else "system", note
    session.add(case)
    session.flush()
    audit.record(session, actor=actor, action="still_live.closed", object_type="still_live_case", object_id=case.id,
                 partner_id=case.partner_id, before={"closed_at": None}, after={"closed_at": now.isoformat(), "note": note})
    return case


def get_case(session: Session, case_id: str) -> StillLiveCase:
    case = session.get(StillLiveCase, case_id)
    if case is None:
        raise StillLiveCaseNotFound(f"No still-live case {case_id}.")
    return case


def list_cases(session: Session, *, status: str | None = "open", partner_id: str | None = None,
               licence_id: str | None = None, article_id: str | None = None, cursor: str | None,
               limit: int) -> tuple[list[StillLiveCase], str | None]:
    """Cases, newest first; `status` open, closed or None for both."""
    stmt = select(StillLiveCase)
    if status == "open":
        stmt = stmt.where(StillLiveCase.closed_at.is_(None))  # type: ignore[union-attr]
    elif status == "closed":
        stmt = stmt.where(StillLiveCase.closed_at.is_not(None))  # type: ignore[union-attr]
    if partner_id is not None:
        stmt = stmt.where(StillLiveCase.partner_id == partner_id)
    if licence_id is not None:
        stmt = stmt.where(StillLiveCase.licence_id == licence_id)
    if article_id is not None:
        stmt = stmt.where(StillLiveCase.article_id == article_id)
    return keyset_page(session, stmt, columns=[col(StillLiveCase.id)], kinds=[str], cursor=cursor, limit=limit,
                       descending=True)
