"""SingleFlight: concurrent loads of one key share one load, its result and its errors, and the
key is forgotten once the load completes."""

from __future__ import annotations

import asyncio

import pytest

from api.core.singleflight import SingleFlight


class _Source:
    """A load that counts its calls and finishes when released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()

    async def load(self, key: str, fail: bool = False) -> str:
        self.calls.append(key)
        await self.release.wait()
        if fail:
            raise LookupError(f"no {key}")
        return f"value of {key} #{self.calls.count(key)}"


async def _until_waiting(flights: SingleFlight, key: str, count: int, source: _Source) -> None:
    """Until `count` callers wait on the load of `key`, and that load has started."""
    for _ in range(1000):
        if flights.waiters(key) == count and key in source.calls:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{flights.waiters(key)} waiting on {key!r}, not {count}")


def test_concurrent_callers_of_one_key_share_one_load() -> None:
    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        source = _Source()
        callers = [asyncio.create_task(flights.run("a", source.load, "a")) for _ in range(5)]
        other = asyncio.create_task(flights.run("b", source.load, "b"))
        await _until_waiting(flights, "a", 5, source)
        await _until_waiting(flights, "b", 1, source)
        assert len(flights) == 2 and sorted(source.calls) == ["a", "b"]
        source.release.set()
        assert [await caller for caller in callers] == ["value of a #1"] * 5
        assert await other == "value of b #1"
        assert len(flights) == 0 and flights.waiters("a") == 0

    asyncio.run(scenario())


def test_an_error_reaches_every_caller_and_the_next_call_loads_again() -> None:
    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        source = _Source()
        callers = [asyncio.create_task(flights.run("a", source.load, "a", True)) for _ in range(3)]
        await _until_waiting(flights, "a", 3, source)
        source.release.set()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert [str(r) for r in results] == ["no a"] * 3 and all(isinstance(r, LookupError) for r in results)
        assert len(flights) == 0
        assert await flights.run("a", source.load, "a") == "value of a #2"  # a fresh load, not the failed one
        assert source.calls == ["a", "a"]

    asyncio.run(scenario())


def test_a_completed_load_is_forgotten_so_a_later_caller_gets_a_fresh_value() -> None:
    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        source = _Source()
        source.release.set()
        assert await flights.run("a", source.load, "a") == "value of a #1"
        assert await flights.run("a", source.load, "a") == "value of a #2"
        assert len(flights) == 0

    asyncio.run(scenario())


def test_a_cancelled_caller_does_not_cancel_the_load_for_the_others() -> None:
    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        source = _Source()
        leaving = asyncio.create_task(flights.run("a", source.load, "a"))
        staying = asyncio.create_task(flights.run("a", source.load, "a"))
        await _until_waiting(flights, "a", 2, source)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        assert flights.waiters("a") == 1
        source.release.set()
        assert await staying == "value of a #1" and source.calls == ["a"]

    asyncio.run(scenario())
