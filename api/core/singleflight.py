"""One load per key however many callers ask for it at once.

A hot article after a restart, or a feed page after the commit that wakes a crowd of long-pollers,
is asked for by many requests in the same moment: the first starts the load, the others wait for
the same one. Its result, or its exception, goes to every caller. The key is forgotten the moment
the load completes, so a caller that comes later starts a fresh load and never gets a stale result.
A caller that is cancelled stops waiting; the load goes on for the others (nobody can cancel it).

Not thread-safe: use one instance from one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Flight:
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Future) -> None:
        self.task = task
        self.waiters = 0


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight] = {}

    async def run(self, key: Hashable, load: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`await load(*args)`, or the result of the load of `key` already in flight."""
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = _Flight(asyncio.ensure_future(self._fly(key, load, args)))
            # Retrieved here too: when every caller was cancelled, its error is not "never retrieved".
            flight.task.add_done_callback(lambda task: task.cancelled() or task.exception())
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1

    async def _fly(self, key: Hashable, load: Callable[..., Awaitable[T]], args: tuple) -> T:
        try:
            return await load(*args)
        finally:
            self._flights.pop(key, None)

    def waiters(self, key: Hashable) -> int:
        """How many callers wait on the load of `key` now (0 when none is in flight)."""
        flight = self._flights.get(key)
        return flight.waiters if flight is not None else 0

    def __len__(self) -> int:
        """Loads in flight."""
        return len(self._flights)
