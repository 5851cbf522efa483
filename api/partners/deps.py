"""The public registration endpoint is the one way in without a key, so it is rate-limited per
client address (counters in Redis when `redis_url` is set, so every API worker shares them)."""

from __future__ import annotations

from fastapi import Request

from api.core.config import Settings
from api.core.ratelimit import AddressLimit
from api.partners.errors import RegistrationRateLimited


class RegistrationLimiter(AddressLimit):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, limit=settings.registration_rate_limit, scope="registration",
                         error=RegistrationRateLimited, what="registrations",
                         advice=", or ask the licensing desk to create the account")


def limit_registrations(request: Request) -> None:
    limiter: RegistrationLimiter | None = getattr(request.app.state, "registration_limiter", None)
    if limiter is None:
        limiter = request.app.state.registration_limiter = RegistrationLimiter(request.app.state.settings)
    limiter.hit(request.client.host if request.client else "unknown")
