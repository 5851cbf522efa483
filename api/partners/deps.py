"""The public registration endpoint is the one way in without a key, so it is rate-limited per
client address (counters in Redis when `redis_url` is set, so every API worker shares them)."""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import parse, storage, strategies

from api.core.config import Settings
from api.core.errors import TooManyRequests


class RegistrationRateLimited(TooManyRequests):
    slug = "registration-rate-limited"
    title = "Too many registrations from this address"


class RegistrationLimiter:
    def __init__(self, settings: Settings) -> None:
        self.item = parse(settings.registration_rate_limit) if settings.registration_rate_limit else None
        backend = (storage.RedisStorage(settings.redis_url, key_prefix="syndicate") if settings.redis_url
                   else storage.MemoryStorage())
        self.limiter = strategies.FixedWindowRateLimiter(backend)

    def hit(self, address: str) -> None:
        if self.item is None or self.limiter.hit(self.item, "registration", address):
            return
        stats = self.limiter.get_window_stats(self.item, "registration", address)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise RegistrationRateLimited(
            f"At most {self.item.amount} registrations per {self.item.get_expiry() // 60} minutes come from one "
            f"address; retry in {retry} s, or ask the licensing desk to create the account.",
            headers={"Retry-After": str(retry)},
        )


def limit_registrations(request: Request) -> None:
    limiter: RegistrationLimiter | None = getattr(request.app.state, "registration_limiter", None)
    if limiter is None:
        limiter = request.app.state.registration_limiter = RegistrationLimiter(request.app.state.settings)
    limiter.hit(request.client.host if request.client else "unknown")
