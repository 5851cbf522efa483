"""Per-token rate limits and per-licence monthly quotas.

Counters live in Redis when `redis_url` is set, so every API worker shares them (limits' Redis
storage, fixed windows), and in process memory otherwise. A quota counter is keyed by calendar
month and seeded from the daily usage rollup the first time a process sees it, so a restart does not
hand out a fresh month.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from limits import parse
from redis.exceptions import RedisError
from sqlmodel import Session

from api.core.config import Settings
from api.core.months import month_bounds
from api.core.ratelimit import (BatchedRedisCounters, LocalCounters, async_counter_storage, rate_limit_headers,
                                seconds_until)
from api.delivery.errors import QuotaExceeded, RateLimited
from api.delivery.snapshots import LicenceView
from api.delivery.usage_log import deliveries_by_licence, deliveries_since


log = logging.getLogger("syndicate.delivery")

# Redis unreachable: say so at most this often (every request would otherwise log it).
OUTAGE_LOG_SECONDS = 10.0
# ... and stop asking it for this long after a failure: a stalled Redis would otherwise hold every
# request for the client's timeout (measured from outside: 60 requests took 6 s, the slowest 1 s).
OUTAGE_BACKOFF_SECONDS = 5.0


def used_since(session: Session, licence_id: str, since: datetime) -> int:
    """Deliveries recorded under a licence since `since` (a month's start): what a quota counter is
    seeded from, read from the daily rollup (a month's whole days), never from the raw log."""
    return deliveries_since(session, licence_id, since)


@dataclass(frozen=True, slots=True)
class QuotaStanding:
    """A licence against its monthly quota this calendar month (UTC), counted as the content path counts it."""
    quota: int | None  # None: no monthly limit
    used: int
    resets_at: datetime
    window: int  # the month's length in seconds: the quota's window

    @classmethod
    def in_month(cls, quota: int | None, used: int, month: tuple[datetime, datetime]) -> QuotaStanding:
        """The standing with `used` deliveries counted in `month` ([start, end), as `month_bounds` gives)."""
        start, end = month
        return cls(quota=quota, used=used, resets_at=end, window=int((end - start).total_seconds()))

    @property
    def left(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.used)

    def reset_in(self, now: float) -> int:
        """Whole seconds from `now` (POSIX) until the count starts again, at least 1."""
        return max(1, math.ceil(self.resets_at.timestamp() - now))

    def headers(self, now: float) -> dict[str, str]:
        """The RateLimit fields a content response carries for this standing (none without a quota)."""
        if self.quota is None:
            return {}
        return rate_limit_headers(limit=self.quota, remaining=self.left or 0, reset=self.reset_in(now),
                                  window=self.window)

    def raw_headers(self, now: float) -> list[tuple[bytes, bytes]]:
        """`headers` as the ASGI fast path sends them, formatted straight to bytes (once per 200 on the hot path)."""
        if self.quota is None:
            return []
        return [(b"ratelimit-limit", b"%d" % self.quota), (b"ratelimit-remaining", b"%d" % (self.left or 0)),
                (b"ratelimit-reset", b"%d" % self.reset_in(now)),
                (b"ratelimit-policy", b"%d;w=%d" % (self.quota, self.window))]


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """A fixed-window request limit: `limit` requests per `window_seconds`, counted per `per`."""
    name: str
    per: str
    limit: int
    window_seconds: int


def rate_policies(settings: Settings) -> list[RatePolicy]:
    """The request limits a partner works within, from the same settings the limiters are built from."""
    policies = []
    for name, per, notation in (("content", "licence token", settings.token_rate_limit),
                                ("api", "API key", settings.api_key_rate_limit)):
        if notation:
            item = parse(notation)
            policies.append(RatePolicy(name, per, item.amount, item.get_expiry()))
    return policies


def quota_standings(session: Session, licences: Sequence[LicenceView], *, now: datetime) -> dict[str, QuotaStanding]:
    """Each licence's standing at `now` by its id: the quota in force (its own plus the grants its
    view carries: `snapshots.licence_views`), the deliveries recorded this calendar month, and when
    the count starts again; one query whatever the number of licences."""
    month = month_bounds(now)
    used = deliveries_by_licence(session, [licence.id for licence in licences], month[0])
    return {licence.id: QuotaStanding.in_month(licence.quota_at(now.timestamp()), used[licence.id], month)
            for licence in licences}


class Limiter:
    def __init__(self, settings: Settings) -> None:
        self.item = parse(settings.token_rate_limit)
        self.window = self.item.get_expiry()
        self.shared = bool(settings.redis_url)
        self.storage = async_counter_storage(settings)
        # The per-token counters, batched (one Redis round trip for the requests of a moment).
        self.token_counters = BatchedRedisCounters(settings.redis_url) if settings.redis_url else None
        self._outage_logged_at = 0.0
        self._counters_down_until = 0.0
        self._seeded: set[str] = set()
        self._keys: dict[str, str] = {}

    def reset(self) -> None:
        """Forget in-process state (a fresh start); shared counters in Redis are kept."""
        self._seeded.clear()
        if isinstance(self.storage, LocalCounters):
            self.storage.reset()

    async def disconnect(self) -> None:
        if self.token_counters is not None:
            await self.token_counters.disconnect()

    def _key(self, jti: str) -> str:
        key = self._keys.get(jti)
        if key is None:
            if len(self._keys) > 100_000:
                self._keys.clear()
            key = self._keys[jti] = self.item.key_for("token", jti)
        return key

    def check_token_here(self, jti: str) -> None:
        """The in-process counter, without an await (the hot path when Redis is not configured)."""
        key = self._key(jti)
        # Called only without Redis, when the storage is the in-process LocalCounters (the sync methods).
        if self.storage.incr_now(key, self.window) > self.item.amount:  # type: ignore[union-attr]
            self._refuse(self.storage.expiry_now(key))  # type: ignore[union-attr]

    async def check_token(self, jti: str) -> None:
        """A fixed window per token, as limits' FixedWindowRateLimiter.hit, with the key built once,
        counted in Redis with the other requests in flight (see BatchedRedisCounters)."""
        key = self._key(jti)
        if self.token_counters is None:
            self.check_token_here(jti)
            return
        if time.monotonic() < self._counters_down_until:
            return  # counters failed a moment ago: served uncounted until the back-off ends
        try:
            count = await self.token_counters.incr(key, self.window)
        except (RedisError, OSError, TimeoutError) as exc:
            # Counters unreachable: serve rather than refuse every partner (as the JSON API's
            # limits do); the batch's timeout bounds how long a stalled Redis holds a request,
            # and the back-off how many requests it holds.
            now = time.monotonic()
            self._counters_down_until = now + OUTAGE_BACKOFF_SECONDS
            if now - self._outage_logged_at > OUTAGE_LOG_SECONDS:
                self._outage_logged_at = now
                log.warning("per-token rate-limit counters unavailable, requests not counted for %.0f s: %r",
                            OUTAGE_BACKOFF_SECONDS, exc)
            return
        if count > self.item.amount:
            self._refuse(await self.storage.get_expiry(key))

    def _refuse(self, reset_at: float) -> None:
        retry = seconds_until(reset_at)
        raise RateLimited(
            f"This token may make {self.item.amount} requests per {self.window} seconds; retry in {retry} s.",
            headers={"Retry-After": str(retry),
                     **rate_limit_headers(limit=self.item.amount, remaining=0, reset=retry, window=self.window)},
        )

    async def take_quota(self, licence: LicenceView, used_this_month: Callable[[datetime], Awaitable[int]],
                         amount: int = 1) -> QuotaStanding | None:
        """Count `amount` deliveries (one article, or a feed page's entries) against the licence's
        monthly quota, all or nothing: if they do not all fit, none is counted and the answer is 429.
        Returns the standing after counting (what the RateLimit headers say), None without a quota."""
        now = datetime.now(UTC)
        quota = licence.quota_at(now.timestamp())  # its own quota plus any grant running now
        if quota is None:
            return None
        start, end = month_bounds(now)
        key = f"quota/{licence.id}/{start:%Y-%m}"
        expiry = int((end - now).total_seconds()) + 86_400
        if key not in self._seeded:
            if not await self.storage.get(key):
                recorded = await used_this_month(start)
                if recorded:
                    await self.storage.incr(key, expiry, recorded)
            self._seeded.add(key)
        if amount <= 0:
            return QuotaStanding.in_month(quota, await self.storage.get(key), (start, end))
        used = await self.storage.incr(key, expiry, amount)
        if used > quota:
            await self.storage.incr(key, expiry, -amount)  # give back what this refusal took
            remaining = max(0, quota - (used - amount))
            retry = max(1, math.ceil((end - now).total_seconds()))
            raise QuotaExceeded(
                f"Licence {licence.id} allows {quota} deliveries a month and "
                f"{'they are used up' if amount == 1 else f'these {amount} would go past it'}; "
                f"the quota renews on {end.date().isoformat()}. Ask the licensing desk for a larger quota.",
                headers={"Retry-After": str(retry),
                         **rate_limit_headers(limit=quota, remaining=remaining, reset=retry,
                                              window=int((end - start).total_seconds()))},
            )
        return QuotaStanding.in_month(quota, used, (start, end))

    async def give_back(self, standing: QuotaStanding, licence: LicenceView, amount: int = 1) -> None:
        """Undo `take_quota` for a delivery refused after it (by the licence's cap, say)."""
        start, end = month_bounds(standing.resets_at - timedelta(seconds=1))
        await self.storage.incr(f"quota/{licence.id}/{start:%Y-%m}", int((end - datetime.now(UTC)).total_seconds()) + 86_400,
                                -amount)
