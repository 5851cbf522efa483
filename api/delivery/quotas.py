"""Per-token rate limits and per-licence monthly quotas.

Counters live in Redis when `redis_url` is set, so every API worker shares them (limits' Redis
storage, fixed windows), and in process memory otherwise. A quota counter is keyed by calendar
month and seeded from the usage table the first time a process sees it, so a restart does not
hand out a fresh month.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from limits import parse
from sqlalchemy import func, select
from sqlmodel import Session, col

from api.core.config import Settings
from api.core.ratelimit import LocalCounters, async_counter_storage, rate_limit_headers, seconds_until
from api.delivery.errors import QuotaExceeded, RateLimited
from api.delivery.models import UsageEvent
from api.delivery.snapshots import LicenceView, load_licence


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def used_since(session: Session, licence_id: str, since: datetime) -> int:
    """Deliveries recorded under a licence since `since`: what a quota counter is seeded from."""
    stmt = select(func.count()).select_from(UsageEvent).where(col(UsageEvent.licence_id) == licence_id,
                                                              col(UsageEvent.at) >= since)
    return int(session.execute(stmt).scalar_one())


@dataclass(frozen=True, slots=True)
class QuotaStanding:
    """A licence against its monthly quota this calendar month (UTC), counted as the content path counts it."""
    quota: int | None  # None: no monthly limit
    used: int
    resets_at: datetime

    @property
    def left(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.used)


def quota_standing(session: Session, licence_id: str, *, now: datetime | None = None) -> QuotaStanding | None:
    """The quota in force now (the licence's own plus running grants), deliveries recorded this month
    and when the count starts again; None for an unknown licence."""
    licence = load_licence(session, licence_id)
    if licence is None:
        return None
    now = now or datetime.now(UTC)
    start, end = month_bounds(now)
    return QuotaStanding(quota=licence.quota_at(now.timestamp()), used=used_since(session, licence_id, start),
                         resets_at=end)


class Limiter:
    def __init__(self, settings: Settings) -> None:
        self.item = parse(settings.token_rate_limit)
        self.window = self.item.get_expiry()
        self.shared = bool(settings.redis_url)
        self.storage = async_counter_storage(settings)
        self._seeded: set[str] = set()
        self._keys: dict[str, str] = {}

    def reset(self) -> None:
        """Forget in-process state (a fresh start); shared counters in Redis are kept."""
        self._seeded.clear()
        if isinstance(self.storage, LocalCounters):
            self.storage.reset()

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
        """A fixed window per token, as limits' FixedWindowRateLimiter.hit, with the key built once."""
        key = self._key(jti)
        if await self.storage.incr(key, self.window) > self.item.amount:
            self._refuse(await self.storage.get_expiry(key))

    def _refuse(self, reset_at: float) -> None:
        retry = seconds_until(reset_at)
        raise RateLimited(
            f"This token may make {self.item.amount} requests per {self.window} seconds; retry in {retry} s.",
            headers={"Retry-After": str(retry),
                     **rate_limit_headers(limit=self.item.amount, remaining=0, reset=retry, window=self.window)},
        )

    async def take_quota(self, licence: LicenceView, used_this_month: Callable[[datetime], Awaitable[int]],
                         amount: int = 1) -> None:
        """Count `amount` deliveries (one article, or a feed page's entries) against the licence's
        monthly quota, all or nothing: if they do not all fit, none is counted and the answer is 429."""
        now = datetime.now(UTC)
        quota = licence.quota_at(now.timestamp())  # its own quota plus any grant running now
        if quota is None:
            return
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
            return
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
