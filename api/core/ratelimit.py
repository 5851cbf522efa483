"""Per-client-address rate limits for the ways in that need no key (self-registration, staff login).

Fixed windows from the `limits` library, as the partner registration limit uses; counters live in
Redis when `redis_url` is set, so every API worker counts together, and in process otherwise.
"""

from __future__ import annotations

import math
import time

from limits import parse, storage, strategies

from api.core.config import Settings
from api.core.errors import TooManyRequests


def counter_storage(settings: Settings) -> storage.Storage:
    if settings.redis_url:
        return storage.RedisStorage(settings.redis_url, key_prefix="syndicate")
    return storage.MemoryStorage()


class AddressLimit:
    """At most `limit` ("20/minute"; empty turns it off) hits per address in `scope`."""

    def __init__(self, settings: Settings, *, limit: str, scope: str, error: type[TooManyRequests], what: str,
                 advice: str = "") -> None:
        self.item = parse(limit) if limit else None
        self.scope = scope
        self.error = error
        self.what = what
        self.advice = advice
        self.limiter = strategies.FixedWindowRateLimiter(counter_storage(settings))

    def hit(self, address: str) -> None:
        if self.item is None or self.limiter.hit(self.item, self.scope, address):
            return
        stats = self.limiter.get_window_stats(self.item, self.scope, address)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        window = self.item.get_expiry()
        per = f"{window // 60} minute(s)" if window >= 60 else f"{window} second(s)"
        raise self.error(
            f"At most {self.item.amount} {self.what} per {per} come from one address; retry in {retry} s{self.advice}.",
            headers={"Retry-After": str(retry)}, retry_after=retry,
        )
