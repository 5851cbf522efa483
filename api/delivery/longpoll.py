"""Long-poll: one notifier per worker wakes every waiting feed request when a change commits.

Waiting requests never poll the database themselves. A waiter remembers the change head it last
read and sleeps on the notifier's current Event; each commit anywhere sets it (and puts a fresh one
in its place), and a waiter whose licence might cover the commit goes back to the database once.

Commits reach the notifier:
- from this worker: the catalogue's after-commit callback (api/catalogue/changes.py), at once;
- from other workers, on PostgreSQL: LISTEN on one connection per worker (a daemon thread);
- from other processes, on SQLite: one shared query of the change log per interval, made only
  while someone waits, whatever the number of waiters.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from api.catalogue import changes
from api.catalogue.models import Article, ArticleChange
from api.core.db import make_engine, read_only
from api.delivery.change_feed import covers_change
from api.delivery.snapshots import LicenceView

log = logging.getLogger("syndicate.delivery.longpoll")

MAX_WAIT_SECONDS = 30
SQLITE_POLL_SECONDS = 0.25
# Commits remembered for waiters that arrive with an older head; one older than these wakes them anyway.
RECENT_COMMITS = 1024


class ChangeNotifier:
    def __init__(self, engine: Engine, *, poll_interval: float = SQLITE_POLL_SECONDS) -> None:
        self.engine = engine
        # Its own connection, read-only (SQLite: a deferred BEGIN, so a poll never takes the write lock); not
        # the content pool's, whose connections the usage writer also uses.
        self._reader = read_only(make_engine(engine.url.render_as_string(hide_password=False), pool_size=1,
                                             max_overflow=1, immediate=False))
        self.database = str(engine.url)
        self.poll_interval = poll_interval
        self.head = 0
        self.waiting = 0
        self.polls = 0  # shared change-log queries made (SQLite): what waiting costs the database
        self._recent: deque[changes.Committed] = deque(maxlen=RECENT_COMMITS)
        self._forgotten_head = 0  # the newest head pushed out of _recent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = threading.Event()
        self.listening = threading.Event()  # PostgreSQL: set once the LISTEN connection is up
        self._thread: threading.Thread | None = None
        self._poller: asyncio.Task | None = None

    # --- lifecycle (in the worker's event loop) ---------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self.head = await asyncio.to_thread(self._read_head)
        self._unsubscribe = changes.on_commit(self._from_any_thread)
        if self.engine.dialect.name == "postgresql":
            self._thread = threading.Thread(target=self._listen, name="syndicate-change-listener", daemon=True)
            self._thread.start()
        else:
            self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        self._stopping.set()
        if self._unsubscribe:
            self._unsubscribe()
        if self._poller:
            self._poller.cancel()
        if self._thread:
            await asyncio.to_thread(self._thread.join, 3)
        self._reader.dispose()

    # --- waiting ----------------------------------------------------------------------------------

    def _concerns(self, licence: LicenceView, after: int) -> bool:
        if after < self._forgotten_head:
            return True  # too far back to tell: let the caller look
        return any(c.head > after and covers_change(licence, c) for c in self._recent)

    async def wait(self, licence: LicenceView, after: int, timeout: float) -> bool:
        """Until a commit past change `after` that might concern the licence (True), or `timeout` (False)."""
        assert self._loop is not None and self._changed is not None, "the notifier is not started"
        deadline = self._loop.time() + timeout
        self.waiting += 1
        try:
            while not self._concerns(licence, after):
                remaining = deadline - self._loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    return False
            return True
        finally:
            self.waiting -= 1

    # --- being told -------------------------------------------------------------------------------

    def publish(self, committed: changes.Committed) -> None:
        """In the event loop: remember the commit and wake every waiter."""
        if len(self._recent) == self._recent.maxlen:
            self._forgotten_head = max(self._forgotten_head, self._recent[0].head)
        self._recent.append(committed)
        self.head = max(self.head, committed.head)
        woken, self._changed = self._changed, asyncio.Event()
        if woken is not None:
            woken.set()

    def _from_any_thread(self, committed: changes.Committed) -> None:
        if committed.database != self.database or self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self.publish, committed)

    def _read_head(self) -> int:
        with Session(self._reader) as session:
            return changes.head(session)

    def _listen(self) -> None:
        """PostgreSQL: one LISTEN connection for the worker, reconnecting after a failure (and then
        waking everyone, since notifications may have been lost meanwhile)."""
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        reconnecting = False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {changes.NOTIFY_CHANNEL}")
                    self.listening.set()
                    if reconnecting:
                        self._from_any_thread(changes.Committed(self.database, self._read_head(), None))
                    reconnecting = True
                    while not self._stopping.is_set():
                        for message in connection.notifies(timeout=1.0):
                            committed = changes.notification(self.database, message.payload)
                            if committed is not None:
                                self._from_any_thread(committed)
            except Exception:  # noqa: BLE001 - keep listening: waiters fall back to their time-out meanwhile
                log.exception("change listener lost its connection; reconnecting")
                self._stopping.wait(1.0)

    async def _poll(self) -> None:
        """SQLite: commits by other processes, one query per interval for all waiters."""
        while not self._stopping.is_set():
            await asyncio.sleep(self.poll_interval)
            if not self.waiting:
                continue
            try:
                newer = await asyncio.to_thread(self._read_after, self.head)
            except Exception:  # noqa: BLE001 - try again next interval
                log.exception("change poll failed")
                continue
            if newer is not None:
                self.publish(newer)

    def _read_after(self, head: int) -> changes.Committed | None:
        self.polls += 1
        with Session(self._reader) as session:
            rows = session.execute(select(ArticleChange.seq, ArticleChange.article_id, Article.section)  # type: ignore[call-overload]
                                   .join(Article, Article.id == ArticleChange.article_id)
                                   .where(col(ArticleChange.seq) > head).order_by(col(ArticleChange.seq))
                                   .limit(RECENT_COMMITS)).all()
        if not rows:
            return None
        articles = tuple((row.article_id, row.section) for row in rows) if len(rows) < RECENT_COMMITS else None
        return changes.Committed(self.database, rows[-1].seq, articles)
