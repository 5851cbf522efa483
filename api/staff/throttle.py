"""Staff login throttling: attempts per client address, and failed attempts per e-mail address.

Both are fixed windows of the one rate-limit mechanism (api.core.ratelimit: `limits`, counted in
Redis when `redis_url` is set). Per address, every attempt counts, before any password is hashed.
Per account, failures count, from wherever they come: past `login_account_rate_limit` the next
attempts are refused until the window ends, even with the right password. Unknown e-mail addresses
are counted and refused exactly like known ones, so the refusal says nothing about who has an account.
"""

from __future__ import annotations

import hashlib

from api.core.config import Settings
from api.core.ratelimit import AddressLimit
from api.staff.errors import LoginRateLimited, TooManyFailedLogins


def _account_key(email: str) -> str:
    # The address itself never reaches Redis: a digest names its counter.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        self.per_address = AddressLimit(settings, limit=settings.login_rate_limit, scope="staff-login",
                                        error=LoginRateLimited, what="login attempts")
        self.per_account = AddressLimit(settings, limit=settings.login_account_rate_limit, scope="staff-login-account",
                                        error=TooManyFailedLogins, what="failed log-ins",
                                        source="are allowed for one e-mail address", advice=", or ask an admin")

    def attempt_from(self, address: str) -> None:
        """Count an attempt from `address`; raise LoginRateLimited (429, Retry-After) past the limit."""
        self.per_address.hit(address)

    def before_password(self, email: str) -> None:
        """Raise TooManyFailedLogins (429, Retry-After) if this e-mail address has used up its failures."""
        self.per_account.check(_account_key(email))

    def failed(self, email: str) -> None:
        self.per_account.record(_account_key(email))

    def succeeded(self, email: str) -> None:
        self.per_account.clear(_account_key(email))
