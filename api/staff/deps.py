"""The staff login throttle, one per app (its counters are shared through Redis when configured)."""

from __future__ import annotations

from fastapi import Request

from api.staff.throttle import LoginThrottle


def login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle(request.app.state.settings)
    return throttle


def limit_logins(request: Request) -> LoginThrottle:
    """Count this address's attempt (429 with Retry-After past `SYNDICATE_LOGIN_RATE_LIMIT`) before
    any body is read or password hashed; returns the throttle for the per-account check.

    Sync on purpose: FastAPI runs it in the thread pool, so a Redis round trip never blocks the loop.
    """
    throttle = login_throttle(request)
    throttle.attempt_from(request.client.host if request.client else "unknown")
    return throttle
