"""The change cursor: every committed article change, numbered in commit order.

`updated_at` is stamped when a transaction changes the row, not when it commits, so a transaction
that starts first and commits last publishes a change *older* than one a client has already seen:
a client syncing with `updated_since` misses it (hence its documented overlap). The change log fixes
that. Each revision a transaction adds (created, updated, corrected, withdrawn; embargo_lifted from
api/catalogue/embargoes.py) is noted, and when the transaction commits the log rows are inserted as
its very last statements:

- PostgreSQL: under `pg_advisory_xact_lock`, which the transaction holds until its commit is
  visible. A sequence value taken at insert time is not commit-ordered on its own (a transaction
  can take 5, stall, and commit after another took 6); taken under the lock it is, because the
  next stamper cannot take a number before the previous one has committed. So a reader that sees
  change N has every change below N already visible (a failed commit leaves a gap, never a hole
  that fills later). The lock is held for one INSERT and the commit: stamps are serialised, the
  transactions' work is not.
- SQLite: writers are serialised by the database itself, so the rowid it assigns is commit-ordered.

A `NOTIFY` (PostgreSQL) in the same transaction, and a callback after the local commit, tell
long-polling requests (api/delivery/longpoll.py) that the head has moved.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event, func, inspect, select, text
from sqlmodel import Session

from api.catalogue.models import Article, ArticleChange, ArticleRevision

log = logging.getLogger("syndicate.catalogue.changes")

_PENDING = "catalogue_pending_changes"
_STAMPED = "catalogue_stamped_changes"
NOTIFY_CHANNEL = "syndicate_article_change"
# pg_advisory_xact_lock's key: any fixed 64-bit number no other code uses ("syn-chg" in ASCII).
STAMP_LOCK_KEY = 0x73796E2D636867
# NOTIFY payloads are limited to 8000 bytes: a bigger batch is announced by its head alone.
_MAX_NOTIFY_PAYLOAD = 7000


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit added to the log, for whoever waits on it: the new head and, when known, the
    changed articles with their sections (so a waiter can tell whether its licence covers them)."""

    database: str
    head: int
    articles: tuple[tuple[str, str | None], ...] | None


_listeners: list[Callable[[Committed], None]] = []


def on_commit(listener: Callable[[Committed], None]) -> Callable[[], None]:
    """Call `listener` after every local commit that added changes; returns the unsubscribe."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def note(session: Session, revision: ArticleRevision) -> None:
    """The revision goes into the change log when (and if) its transaction commits."""
    session.info.setdefault(_PENDING, []).append(revision)


def head(session: Session) -> int:
    """The newest committed change (0 when there is none)."""
    return session.execute(select(func.coalesce(func.max(ArticleChange.seq), 0))).scalar_one()


def encode(seq: int) -> str:
    return str(seq)


def decode(cursor: str) -> int:
    """A change cursor is the decimal number of a change; ValueError otherwise."""
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19:
        raise ValueError(cursor)
    return int(cursor)


def notification(database: str, payload: str) -> Committed | None:
    """A NOTIFY payload back into a Committed (None if it is not one of ours)."""
    try:
        raw = json.loads(payload)
        articles = raw.get("articles")
        return Committed(database, int(raw["head"]),
                         None if articles is None else tuple((str(a), s) for a, s in articles))
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed change notification: %.200s", payload)
        return None


@event.listens_for(Session, "before_commit")
def _stamp(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer commit stamps
    pending = session.info.get(_PENDING)
    if not pending:
        return
    session.flush()
    # A revision added inside a savepoint that rolled back is no longer persistent: it never happened.
    revisions = [r for r in session.info.pop(_PENDING) if inspect(r).persistent]
    if not revisions:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STAMP_LOCK_KEY})
    rows = [ArticleChange(article_id=r.article_id, version=r.version, change=r.change) for r in revisions]
    session.add_all(rows)
    session.flush()
    newest = max(row.seq or 0 for row in rows)
    sections: dict[str, str | None] = {row.id: row.section for row in session.execute(
        select(Article.id, Article.section).where(  # type: ignore[call-overload]
            Article.id.in_({r.article_id for r in rows})))}  # type: ignore[attr-defined]
    articles = tuple((r.article_id, sections.get(r.article_id)) for r in rows)
    if postgres:
        payload = json.dumps({"head": newest, "articles": articles}, separators=(",", ":"))
        if len(payload) > _MAX_NOTIFY_PAYLOAD:
            payload = json.dumps({"head": newest})
        session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": NOTIFY_CHANNEL, "payload": payload})
    session.info[_STAMPED] = Committed(str(session.get_bind().engine.url), newest, articles)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    committed = session.info.pop(_STAMPED, None)
    if committed is None:
        return
    for listener in list(_listeners):
        try:
            listener(committed)
        except Exception:  # noqa: BLE001 - the change is committed: a waiter's trouble must not fail the request
            log.exception("change listener failed")


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (a commit has announced already)
        session.info.pop(_PENDING, None)
        session.info.pop(_STAMPED, None)
