"""Beacon hits with group commit: the pixel is answered at once, the hit is counted within ~100 ms.

A commit per hit capped the beacon at ~100 requests/s on SQLite (each request waited for the write
lock and its own commit). A hit is a page view, not a delivery: nothing is served on the strength
of it having been written, so unlike usage metering (api/delivery/metering.py) the request need
not wait for its commit. The route classifies the hit (bot, prefetch, viewer hash) and appends it
here; a flusher thread (off the event loop) takes everything appended every `interval` seconds and
counts it in ONE transaction, hit by hit in arrival order, with the very statements a hit used to
run on its own (service.record_sighting, then still_live.note_sighting for a killed copy). So the
counts are exactly what they were: every hit raw, views deduplicated by viewer within 30 minutes
(the claim upsert sees the batch's earlier hits, since they run first in the same transaction).

A batch that fails is rolled back whole and its hits are tried one by one: a hit the database
refuses on its own is dropped (as its request would have failed), and when none goes in (the
database is down) the batch goes back in front of the queue for the next tick, so no hit is counted
twice or lost while the database comes back. `stop` flushes what is left: an orderly
shutdown loses nothing; a crash loses at most the last `interval` of hits (never anything billed).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from api.tracking import service, still_live

log = logging.getLogger("syndicate.tracking.beacons")

FLUSH_INTERVAL = 0.1  # seconds
# Hits held while the database refuses them (an outage): beyond this the oldest are dropped, logged.
MAX_PENDING = 200_000


@dataclass(frozen=True, slots=True)
class PendingHit:
    licence_id: str
    article_id: str
    page_url: str
    viewer: str | None
    kill: still_live.Kill | None
    at: datetime


class BeaconBuffer:
    def __init__(self, engine: Engine, interval: float = FLUSH_INTERVAL) -> None:
        self.engine = engine
        self.interval = interval
        self._pending: deque[PendingHit] = deque()
        self._lock = threading.Lock()  # guards _pending
        self._flushing = threading.Lock()  # one batch at a time, so hits are counted in arrival order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._users = 0
        self.dropped = 0

    def add(self, hit: PendingHit) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.error("beacon buffer full (database unavailable?): %d hit(s) dropped so far", self.dropped)
            self._pending.append(hit)

    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Count everything appended so far, in one transaction; the number of hits counted."""
        with self._flushing:
            with self._lock:
                batch = list(self._pending)
                self._pending.clear()
            if not batch:
                return 0
            try:
                self._count(batch)
                return len(batch)
            except Exception:
                log.warning("beacon batch of %d failed; counting its hits one by one", len(batch), exc_info=True)
            # One hit the database refuses (say, an article deleted meanwhile) must not hold up the rest:
            # alone, it fails as its request would have; the others are counted.
            failed = []
            for hit in batch:
                try:
                    self._count([hit])
                except Exception:  # noqa: BLE001
                    failed.append(hit)
            if len(failed) == len(batch):  # nothing went in: the database, not the hits
                with self._lock:  # back in front, in order, for the next try
                    self._pending.extendleft(reversed(batch))
                raise RuntimeError(f"beacon flush failed; {len(batch)} hit(s) kept for the next try")
            if failed:
                log.error("beacon: %d hit(s) the database refused were dropped", len(failed))
            return len(batch) - len(failed)

    def _count(self, hits: list[PendingHit]) -> None:
        """The hits in one transaction, each through the statements it ran on its own before."""
        with Session(self.engine, expire_on_commit=False) as session:
            for hit in hits:
                counted = service.record_sighting(session, licence_id=hit.licence_id, article_id=hit.article_id,
                                                  page_url=hit.page_url, viewer=hit.viewer, now=hit.at)
                if hit.kill is not None:
                    still_live.note_sighting(session, licence_id=hit.licence_id, article_id=hit.article_id,
                                             page_url=hit.page_url, kill=hit.kill, view=counted.view, now=hit.at)
            session.commit()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the hits are kept; the next tick tries again
                log.exception("beacon flush failed")

    def start(self) -> None:
        """Run the flusher (once, however many servers of the app start: each start needs its stop)."""
        with self._lock:
            self._users += 1
            if self._thread is not None:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="beacon-flusher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Count what is left (shutdown); the last stop also ends the flusher."""
        with self._lock:
            self._users = max(0, self._users - 1)
            thread = self._thread if self._users == 0 else None
            if thread is not None:
                self._stop.set()
                self._thread = None
        if thread is not None:
            thread.join(timeout=10)
        try:
            self.flush()
        except Exception:  # noqa: BLE001
            log.exception("beacon flush at shutdown failed: %d hit(s) not counted", self.pending())
