"""Work a server process does once it listens, not before.

The in-process worker, the delivery cache preload and the login timing equaliser are not needed
to answer a request correctly, but each costs CPU (and, in threads, the GIL) that would otherwise
delay the moment the server binds its port. They run as "after listening" hooks, started by the
first of:
- `syndicate serve`: uvicorn calls `server_listening` below once the socket is bound;
- the first HTTP request the app receives (it proves the server listens, whatever server it is);
- a timer, `FALLBACK_SECONDS` after the application started (another server, no traffic yet).

`/readyz` tells the truth meanwhile: it waits (briefly) for the hooks to finish and answers 503
`starting` if they have not.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("syndicate")

Hook = Callable[[], Awaitable[None]]
FALLBACK_SECONDS = 1.0
STOP_PATIENCE_SECONDS = 10.0

# The application this process's server serves (one per process; armed at its start): what
# `server_listening` tells. uvicorn's callback takes no argument, and `syndicate serve` must not
# import the app in the parent of several workers just to name it.
_serving: AfterListening | None = None


async def server_listening() -> None:
    """uvicorn's `callback_notify` (api.cli serve): called on the server's event loop once it has
    bound its socket, then every `timeout_notify` seconds (later calls do nothing)."""
    if _serving is not None:
        _serving.trigger()


class AfterListening:
    """The hooks run on the application's own event loop (the one its lifespan runs on), whichever
    loop triggers them: a test client may send requests from another."""

    def __init__(self) -> None:
        self._hooks: list[Hook] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._finished = threading.Event()
        self.armed = False  # between the application's start and its stop
        self.failed: BaseException | None = None

    def arm(self, hooks: list[Hook]) -> None:
        """Call at the end of the application's startup, on its event loop: `hooks` run, in order,
        when `trigger` is first called (or after FALLBACK_SECONDS)."""
        global _serving
        self._hooks, self._task, self.failed = list(hooks), None, None
        self._finished.clear()
        self._loop = asyncio.get_running_loop()
        self.armed = True
        _serving = self
        self._timer = self._loop.call_later(FALLBACK_SECONDS, self.trigger)

    def trigger(self) -> None:
        """Start the hooks, once (from any thread or loop)."""
        loop = self._loop
        if not self.armed or self._task is not None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._start()
        else:
            loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        if not self.armed or self._task is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._task = self._loop.create_task(self._run(), name="syndicate-after-listening")

    async def _run(self) -> None:
        try:
            for hook in self._hooks:
                await hook()
        except Exception as exc:  # noqa: BLE001 - reported by /readyz, logged here
            self.failed = exc
            log.exception("starting the work done after listening failed")
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        return self._finished.is_set() and self.failed is None

    async def wait(self, timeout: float) -> bool:
        """Start the hooks if they have not started, wait up to `timeout` seconds for them; whether they all
        ran. True at once when none are pending (an application that was not started has none)."""
        if not self.armed:
            return self.failed is None
        self.trigger()
        deadline = time.monotonic() + timeout
        while not self._finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # only while starting; any event loop may be waiting here
        return self.done

    async def disarm(self) -> None:
        """At the application's stop, on its loop: hooks not started never start; hooks running finish
        first (what they started is stopped by the shutdown that follows)."""
        global _serving
        self.armed = False
        if _serving is self:
            _serving = None
        if self._timer is not None:
            self._timer.cancel()
        if self._task is None or self._loop is None or not self._loop.is_running():
            return
        if asyncio.get_running_loop() is self._loop:
            await asyncio.gather(self._task, return_exceptions=True)
            return
        deadline = time.monotonic() + STOP_PATIENCE_SECONDS  # a stop on another loop than the start (a test client)
        while not self._finished.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
