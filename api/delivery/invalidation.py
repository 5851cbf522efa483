"""Keeping the delivery caches honest.

In this process: changes to articles, licences, tokens and keys are collected when a session
flushes and applied to every live cache when it commits (a rolled-back change drops nothing).
In other processes: `bump` increments a change counter in the same transaction as the change,
and each process polls the counters about twice a second.

Articles are counted too, at commit time, for any transaction that changed an article row through
the ORM (whichever service did it): comparing the newest `updated_at` instead would let a clock
behind another host's hide a takedown. The bump is the transaction's last statement, so on
PostgreSQL the counter's row lock is held only while committing and never ordered before an
article's row lock (two imports locking articles could otherwise deadlock on it).
"""

from __future__ import annotations

import logging
import weakref
from itertools import chain
from typing import Protocol

from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from api.catalogue.models import Article
from api.delivery.models import DeliveryGeneration, LicenceToken, SigningKey
from api.licensing.service import on_licence_change
from api.licensing.models import Licence

_PENDING = "delivery_invalidations"
_ARTICLE_CHANGED = "delivery_article_changed"
GENERATIONS = ("licence", "token", "key", "article")  # the counters API processes poll


log = logging.getLogger("syndicate.delivery")


class Invalidatable(Protocol):
    engine: Engine

    def invalidate(self, changes: set[tuple[str, str]]) -> None: ...

    def clear(self) -> None: ...


_caches: weakref.WeakSet = weakref.WeakSet()


def register(cache: Invalidatable) -> None:
    _caches.add(cache)


def bump(session: Session, name: str) -> None:
    """Increment the change counter `name` (one of GENERATIONS) inside the caller's transaction."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(DeliveryGeneration).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": DeliveryGeneration.value + 1})
    session.execute(stmt)


def _note(session: Session, kind: str, key: str) -> None:
    session.info.setdefault(_PENDING, set()).add((kind, key))


@on_licence_change
def _licence_changed(session: Session, licence: Licence) -> None:
    _note(session, "licence", licence.id)
    bump(session, "licence")


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context) -> None:
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Article):
            _note(session, "article", obj.id)
            if obj not in session.new:  # a new article is in nobody's cache
                session.info[_ARTICLE_CHANGED] = True
        elif isinstance(obj, Licence):
            _note(session, "licence", obj.id)
        elif isinstance(obj, LicenceToken) and obj.revoked_at is not None:
            _note(session, "token", obj.jti)
        elif isinstance(obj, SigningKey):
            _note(session, "key", obj.kid)


@event.listens_for(Session, "before_commit")
def _count_article_changes(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer commit counts
    session.flush()  # so every article change of this transaction has been collected
    if session.info.pop(_ARTICLE_CHANGED, False):
        bump(session, "article")


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    changes = session.info.pop(_PENDING, None)
    if not changes:
        return
    url = session.get_bind().engine.url
    for cache in list(_caches):
        if cache.engine.url != url:
            continue  # another database's cache (several apps in one process: tests, tools)
        try:
            cache.invalidate(changes)
        except Exception:  # noqa: BLE001 - the change is committed: never fail its request over a cache
            log.exception("delivery cache invalidation failed; dropping the whole cache instead")
            cache.clear()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_ARTICLE_CHANGED, None)
