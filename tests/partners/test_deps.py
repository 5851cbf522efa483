from __future__ import annotations

import uuid

import pytest

from api.partners.deps import RegistrationLimiter
from tests.conftest import make_settings
from api.partners.errors import RegistrationRateLimited

REDIS_URL = "redis://127.0.0.1:6379/15"


def test_registration_counters_are_shared_through_redis(database_url) -> None:
    # Two API workers (two limiters) share one budget per address; the address is unique to this run.
    settings = make_settings(database_url, redis_url=REDIS_URL, registration_rate_limit="3/hour")
    one, two = RegistrationLimiter(settings), RegistrationLimiter(settings)
    address = f"test-{uuid.uuid4().hex}"
    one.hit(address)
    two.hit(address)
    one.hit(address)
    with pytest.raises(RegistrationRateLimited) as refused:
        two.hit(address)
    assert int(refused.value.extra["headers"]["Retry-After"]) > 0
    two.hit(f"{address}-elsewhere")  # another address has its own budget


def test_an_empty_limit_turns_it_off(database_url) -> None:
    limiter = RegistrationLimiter(make_settings(database_url, registration_rate_limit=""))
    for _ in range(50):
        limiter.hit("1.2.3.4")
