"""Sightings: counting a beacon hit (the hot path: upserts, no reads but the day's key once a day
per process), the day keys viewers are hashed under, and the lists staff and partners read.

Session first, keyword-only arguments, flush never commit.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.core.db import utcnow
from api.core.pagination import keyset_page
from api.licensing.models import Licence
from api.tracking import beacons
from api.tracking.models import BeaconDayKey, BeaconSighting, BeaconSightingDay, BeaconViewer


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- the day's viewer key ---------------------------------------------------------------------------

_day_keys: dict[date, bytes] = {}
_day_keys_lock = threading.Lock()


def known_day_key(day: date) -> bytes | None:
    """The key of `day` if this process holds it already (no query)."""
    return _day_keys.get(day)


def day_key(session: Session, day: date) -> bytes:
    """The random key of `day`, made by whichever process sees the day's first view; every process
    then keeps it in memory until the day is over."""
    known = _day_keys.get(day)
    if known is not None:
        return known
    session.execute(_insert(session)(BeaconDayKey).values(day=day, key=secrets.token_hex(32))
                    .on_conflict_do_nothing(index_elements=["day"]))
    key = bytes.fromhex(session.exec(select(BeaconDayKey.key).where(BeaconDayKey.day == day)).one())
    with _day_keys_lock:
        for old in [d for d in _day_keys if d < day]:
            _day_keys.pop(old, None)
        _day_keys[day] = key
    return key


def forget_day_keys() -> None:
    """Drop the keys this process holds (tests; a key is also dropped when its day is over)."""
    with _day_keys_lock:
        _day_keys.clear()


# --- counting a hit ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counted:
    sighting_id: str
    view: bool  # whether it counted as a view (not a bot, prefetch or reload within the window)


def record_sighting(session: Session, *, licence_id: str, article_id: str, page_url: str,
                    viewer: str | None, now: datetime | None = None) -> Counted:
    """Count one request for a copy's beacon at `page_url` (already normalised): always in the raw
    `hits`, and in `views` unless it is a bot or prefetch (`viewer` None) or the same viewer was
    counted within 30 minutes; in the page's totals and in its day's. Three upserts, no reads."""
    now = now or utcnow()
    insert = _insert(session)
    counted = False
    if viewer is not None:
        key = hashlib.sha256(f"{licence_id}\n{article_id}\n{page_url}\n{viewer}".encode()).hexdigest()
        claim = insert(BeaconViewer).values(key=key, counted_at=now).on_conflict_do_update(
            index_elements=["key"], set_={"counted_at": now},
            where=BeaconViewer.counted_at <= now - beacons.REPEAT_WINDOW).returning(BeaconViewer.key)
        # A row comes back only when the viewer was new here or its window had passed.
        counted = session.execute(claim).first() is not None
    view = 1 if counted else 0
    totals = insert(BeaconSighting).values(
        id=BeaconSighting.model_fields["id"].get_default(call_default_factory=True),
        licence_id=licence_id, article_id=article_id, page_url=page_url, hits=1, views=view,
        first_seen_at=now, last_seen_at=now,
    ).on_conflict_do_update(index_elements=["licence_id", "article_id", "page_url"],
                            set_={"hits": BeaconSighting.hits + 1, "views": BeaconSighting.views + view,
                                  "last_seen_at": now}).returning(BeaconSighting.id)
    sighting_id = session.execute(totals).scalar_one()
    session.execute(insert(BeaconSightingDay).values(
        sighting_id=sighting_id, day=now.date(), hits=1, views=view, first_seen_at=now, last_seen_at=now,
    ).on_conflict_do_update(index_elements=["sighting_id", "day"],
                            set_={"hits": BeaconSightingDay.hits + 1, "views": BeaconSightingDay.views + view,
                                  "last_seen_at": now}))
    session.flush()
    return Counted(sighting_id, counted)


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Forget viewers whose window has passed (they would count again anyway) and every day key
    older than today's, so a past day's viewer hashes can never be recomputed."""
    now = now or utcnow()
    spent = session.exec(delete(BeaconViewer).where(col(BeaconViewer.counted_at) <= now - beacons.REPEAT_WINDOW))
    session.exec(delete(BeaconDayKey).where(col(BeaconDayKey.day) < now.date()))
    session.flush()
    with _day_keys_lock:
        for old in [d for d in _day_keys if d < now.date()]:
            _day_keys.pop(old, None)
    return spent.rowcount


# --- reading -------------------------------------------------------------------------------------------

def list_sightings(session: Session, *, partner_id: str | None = None, licence_id: str | None = None,
                   article_id: str | None = None, seen_since: datetime | None = None,
                   cursor: str | None, limit: int) -> tuple[list[tuple[BeaconSighting, str]], str | None]:
    """Sightings, newest first (by id: the first sighting's time), each with the licensee's partner id.
    `partner_id` keeps a partner to its own licences."""
    stmt = select(BeaconSighting, Licence.partner_id).join(Licence, Licence.id == BeaconSighting.licence_id)  # type: ignore[arg-type]
    if partner_id is not None:
        stmt = stmt.where(Licence.partner_id == partner_id)
    if licence_id is not None:
        stmt = stmt.where(BeaconSighting.licence_id == licence_id)
    if article_id is not None:
        stmt = stmt.where(BeaconSighting.article_id == article_id)
    if seen_since is not None:
        stmt = stmt.where(BeaconSighting.last_seen_at >= seen_since)
    rows, next_cursor = keyset_page(session, stmt, columns=[col(BeaconSighting.id)], kinds=[str], cursor=cursor,
                                    limit=limit, descending=True, key=lambda row: [row[0].id])
    return [(row[0], row[1]) for row in rows], next_cursor


def days_of(session: Session, sighting_ids: list[str], *, since: date | None = None) -> dict[str, list[BeaconSightingDay]]:
    """Each sighting's days, newest first."""
    if not sighting_ids:
        return {}
    stmt = select(BeaconSightingDay).where(BeaconSightingDay.sighting_id.in_(sighting_ids))  # type: ignore[attr-defined]
    if since is not None:
        stmt = stmt.where(BeaconSightingDay.day >= since)
    found: dict[str, list[BeaconSightingDay]] = {i: [] for i in sighting_ids}
    for row in session.exec(stmt.order_by(BeaconSightingDay.day.desc())).all():  # type: ignore[attr-defined]
        found[row.sighting_id].append(row)
    return found


DAYS_SHOWN = timedelta(days=30)
