"""Rate limits: one mechanism (fixed windows from the `limits` library) for every limit the service sets.

Counters live in Redis when `redis_url` is set, so every API worker counts together, and in process
otherwise. `AddressLimit` is the synchronous form, for the ways in that need no key (self-registration,
staff login); `async_counter_storage` is the asynchronous one, for the content path's per-token limits
and the JSON API's per-key and per-address limits (api.core.api_limits), which run on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from limits import parse, storage, strategies
from redis.exceptions import RedisError
from limits.aio import storage as aio_storage

from api.core.config import Settings
from api.core.errors import CountersUnavailable, TooManyRequests

log = logging.getLogger("syndicate.ratelimit")


# How long any limit waits for Redis before it gives up (redis-py waits forever by default, so a
# stalled Redis would hold every request that counts something).
REDIS_TIMEOUT_SECONDS = 0.5


def counter_storage(settings: Settings) -> storage.Storage:
    if settings.redis_url:
        return storage.RedisStorage(settings.redis_url, key_prefix="syndicate", socket_timeout=REDIS_TIMEOUT_SECONDS,
                                    socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    return storage.MemoryStorage()


def async_counter_storage(settings: Settings) -> aio_storage.Storage | LocalCounters:
    if settings.redis_url:
        url = settings.redis_url
        # redis-py's asyncio client (a project dependency), not limits' default coredis.
        return aio_storage.RedisStorage(url if url.startswith("async+") else "async+" + url,
                                        implementation="redispy", key_prefix="syndicate",
                                        socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    return LocalCounters()


def rate_limit_headers(*, limit: int, remaining: int, reset: int, window: int) -> dict[str, str]:
    """The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers), as every limit sends them."""
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(max(0, remaining)),
            "RateLimit-Reset": str(reset), "RateLimit-Policy": f"{limit};w={window}"}


def seconds_until(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


class LocalCounters:
    """Fixed-window counters in process memory, with the `incr`/`get` semantics of limits' storages.

    limits' own MemoryStorage re-arms a `threading.Timer` (a new thread) every 10 ms while in use,
    and those threads take the GIL from the event loop on the hot path; expiry here is lazy.
    """

    def __init__(self) -> None:
        self._counts: dict[str, list[float]] = {}  # key -> [expires_at, count]

    def incr_now(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        entry = self._counts.get(key)
        if entry is None or entry[0] <= now:
            if len(self._counts) > 200_000:
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            entry = self._counts[key] = [now + expiry, 0]
        entry[1] += amount
        return int(entry[1])

    def expiry_now(self, key: str) -> float:
        entry = self._counts.get(key)
        return entry[0] if entry else time.time()

    # The asynchronous storage interface of limits.aio, used by the quota code.
    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        return self.incr_now(key, expiry, amount)

    async def get(self, key: str) -> int:
        entry = self._counts.get(key)
        return int(entry[1]) if entry and entry[0] > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        return self.expiry_now(key)

    def reset(self) -> None:
        self._counts.clear()


# limits' `incr_expire` script, for many keys in one call: INCRBY, and the window's expiry set by
# its first hit. ARGV holds (expiry, amount) for each key in turn.
_INCR_EXPIRE_MANY = """
local counts = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 * i])
  local current = redis.call("incrby", key, amount)
  if current == amount then
    redis.call("expire", key, ARGV[2 * i - 1])
  end
  counts[i] = current
end
return counts
"""


class BatchedRedisCounters:
    """The content path's per-token counters in Redis, one round trip and one command for many requests.

    Each `incr` is limits' fixed-window increment (its `incr_expire` script), under the same
    `syndicate:` key prefix, so the counts are the ones limits' storage reads. What differs is the
    trip: every increment asked for while one call is in flight goes into the next, as a group
    commit does, and the batch is one script call. Through limits' storage a request cost a round
    trip and ~20 % of a worker's CPU in redis-py's per-command machinery (the realistic-mix
    benchmark's profile); as a pipeline of two commands per request, still ~15 %.
    """

    def __init__(self, url: str, *, prefix: str = "syndicate", timeout: float = REDIS_TIMEOUT_SECONDS) -> None:
        import redis.asyncio as aioredis

        # A stalled Redis must not hold requests for long: each batch gives up after `timeout`.
        self._client = aioredis.Redis.from_url(url.removeprefix("async+"), socket_timeout=timeout,
                                               socket_connect_timeout=timeout)
        self._script = self._client.register_script(_INCR_EXPIRE_MANY)
        self._prefix = prefix + ":"
        self._pending: list[tuple[str, int, int, asyncio.Future]] = []
        self._draining: asyncio.Future | None = None
        self.round_trips = 0  # for tests and the benchmark: how many calls served how many increments
        self.increments = 0

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((self._prefix + key, int(expiry), amount, future))
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                args: list[int] = []
                for _key, expiry, amount, _future in batch:
                    args += (expiry, amount)
                try:
                    counts = await self._script(keys=[key for key, *_rest in batch], args=args)
                except Exception as exc:  # noqa: BLE001 - each waiting request decides what a failure means
                    for *_rest, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.round_trips += 1
                self.increments += len(batch)
                for (*_rest, future), count in zip(batch, counts):
                    if not future.done():  # a request cancelled while waiting
                        future.set_result(int(count))
        finally:
            self._draining = None

    async def disconnect(self) -> None:
        """Close the connections (they belong to the loop that made them); the next `incr` reconnects."""
        await self._client.connection_pool.disconnect()


class AddressLimit:
    """At most `limit` ("20/minute"; empty turns it off) hits per key in `scope`: a client address by
    default; `source` words the refusal for other keys ("for one e-mail address")."""

    def __init__(self, settings: Settings, *, limit: str, scope: str, error: type[TooManyRequests], what: str,
                 advice: str = "", source: str = "come from one address") -> None:
        self.item = parse(limit) if limit else None
        self.scope = scope
        self.error = error
        self.what = what
        self.advice = advice
        self.source = source
        self.limiter = strategies.FixedWindowRateLimiter(counter_storage(settings))

    def hit(self, address: str) -> None:
        """Count one hit for `address`; raise `error` (with Retry-After) past the limit."""
        if self.item is None or self._counted(self.limiter.hit, address):
            return
        self._refuse(address)

    def check(self, key: str) -> None:
        """Raise `error` if `key` has used up its window, counting nothing (for limits on failures only)."""
        if self.item is not None and not self._counted(self.limiter.test, key):
            self._refuse(key)

    def record(self, key: str) -> None:
        """Count one hit for `key` without refusing anything (a failure that `check` will weigh next time)."""
        if self.item is not None:
            self._counted(self.limiter.hit, key)

    def _counted(self, step, key: str) -> bool:
        """These limits guard against guessing: with the counters unreachable the attempt is refused
        (503, not a bare 500), never let through uncounted."""
        try:
            return step(self.item, self.scope, key)
        except (RedisError, OSError) as exc:
            log.warning("rate-limit counters unavailable for %s: %r", self.scope, exc)
            raise CountersUnavailable(f"The counters that limit {self.what} could not be reached, so this attempt "
                                      "was not allowed; retry in a few seconds.",
                                      headers={"Retry-After": "5"}) from exc

    def clear(self, key: str) -> None:
        if self.item is not None:
            self.limiter.clear(self.item, self.scope, key)

    def _refuse(self, key: str) -> None:
        assert self.item is not None
        stats = self.limiter.get_window_stats(self.item, self.scope, key)
        retry = seconds_until(stats.reset_time)
        window = self.item.get_expiry()
        per = f"{window // 60} minute(s)" if window >= 60 else f"{window} second(s)"
        raise self.error(
            f"At most {self.item.amount} {self.what} per {per} {self.source}; retry in {retry} s{self.advice}.",
            headers={"Retry-After": str(retry)}, retry_after=retry,
        )
