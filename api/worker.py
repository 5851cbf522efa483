"""The worker: drains the outbox and runs periodic jobs (expiry, invoicing, ...).

Runs as a thread inside the API process by default, or as `syndicate worker` processes in
production; every job is idempotent, so several workers may run at once.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

import api.jobs  # noqa: F401  - importing registers every domain's jobs and handlers
from api.core.config import Settings, get_settings
from api.core.periodic import PeriodicJob
from api.core.periodic import jobs as periodic_jobs
from api.outbox import service as outbox

log = logging.getLogger("syndicate.worker")


def registered_jobs() -> dict[str, PeriodicJob]:
    """Every domain's periodic jobs (registered when api.jobs was imported, above)."""
    return periodic_jobs()


def run_once(engine: Engine, settings: Settings | None = None) -> int:
    """One pass: due periodic jobs, then the outbox. Returns outbox messages delivered."""
    now = time.monotonic()
    for job in registered_jobs().values():
        if now - job.last_run >= job.every_seconds:
            job.last_run = now
            try:
                job.run(engine)
            except Exception:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("periodic job %s failed", job.name)
    return outbox.drain(engine, capacity=outbox.Capacity.from_settings(settings or get_settings()))


class Worker:
    def __init__(self, engine: Engine, poll_seconds: float = 1.0, settings: Settings | None = None) -> None:
        self.engine, self.settings = engine, settings
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        log.info("worker started")
        while not self._stop.is_set():
            try:
                delivered = run_once(self.engine, self.settings)
            except Exception:  # noqa: BLE001
                log.exception("worker pass failed")
                delivered = 0
            if not delivered:
                self._stop.wait(self.poll_seconds)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="syndicate-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
