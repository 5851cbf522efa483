"""Staff login throttling: attempts per client address, counted before any password is hashed."""

from __future__ import annotations

from fastapi import Request

from api.core.ratelimit import AddressLimit
from api.staff.errors import LoginRateLimited


def limit_logins(request: Request) -> None:
    """Raise LoginRateLimited (429, Retry-After) past `SYNDICATE_LOGIN_RATE_LIMIT` for this address.

    Sync on purpose: FastAPI runs it in the thread pool, so a Redis round trip never blocks the loop.
    """
    limiter: AddressLimit | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = request.app.state.login_limiter = AddressLimit(
            settings, limit=settings.login_rate_limit, scope="staff-login", error=LoginRateLimited,
            what="login attempts")
    limiter.hit(request.client.host if request.client else "unknown")
