"""Per-token rate limits and per-licence monthly quotas: 429 with Retry-After and RateLimit headers."""

from __future__ import annotations


import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from tests.builders import make_api_key, make_article, make_licence, make_partner
from tests.conftest import make_settings
from tests.delivery.conftest import bearer

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> str | None:
    if request.param == "redis":
        if not _redis_available():
            pytest.fail("Redis is expected on 127.0.0.1:6379 for the shared-counter tests")
        return REDIS_URL
    return None


def _client(database_url: str, redis_url: str | None, **overrides) -> TestClient:
    application = create_app(make_settings(database_url, redis_url=redis_url, **overrides), run_worker=False)
    return TestClient(application, raise_server_exceptions=False)


def _setup(session, *, monthly_quota=None):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], monthly_quota=monthly_quota)
    session.commit()
    return api_key, article, licence


def test_token_rate_limit_answers_429_with_headers(app, session, database_url, storage):
    api_key, article, licence = _setup(session)
    with _client(database_url, storage, token_rate_limit="3/hour") as client:
        token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        statuses = [client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))
        assert refused.status_code == 429 and refused.json()["type"] == "/problems/token-rate-limited"
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        assert refused.headers["ratelimit-limit"] == "3" and refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["ratelimit-policy"] == "3;w=3600"
        other = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(other)).status_code == 200


def test_monthly_quota_answers_429_until_next_month(app, session, database_url, storage):
    api_key, article, licence = _setup(session, monthly_quota=2)
    with _client(database_url, storage) as client:
        token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        for _ in range(2):
            assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
        refused = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))
        assert refused.status_code == 429 and refused.json()["type"] == "/problems/quota-exceeded"
        assert int(refused.headers["retry-after"]) > 0 and refused.headers["ratelimit-limit"] == "2"
        # A new token does not buy a new quota: it belongs to the licence.
        other = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(other)).status_code == 429


def test_quota_survives_a_restart_by_counting_recorded_usage(app, session, database_url):
    api_key, article, licence = _setup(session, monthly_quota=2)
    with _client(database_url, None) as client:
        token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    with _client(database_url, None) as restarted:  # fresh in-process counters
        assert restarted.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
        assert restarted.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 429


def test_redis_counters_are_shared_between_workers(app, session, database_url):
    if not _redis_available():
        pytest.fail("Redis is expected on 127.0.0.1:6379")
    api_key, article, licence = _setup(session)
    limit = "2/hour"
    with _client(database_url, REDIS_URL, token_rate_limit=limit) as one, \
            _client(database_url, REDIS_URL, token_rate_limit=limit) as two:
        token = one.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        assert one.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
        assert two.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
        assert one.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 429
        assert two.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 429


async def test_per_token_counts_in_flight_share_one_redis_round_trip():
    """Fifty requests counted at once: each gets its own exact count, in far fewer round trips,
    under the key limits' storage reads (so its expiry and refusals agree)."""
    from limits.aio.storage import RedisStorage

    from api.core.ratelimit import BatchedRedisCounters

    redis.Redis.from_url(REDIS_URL).delete("syndicate:batched-test")
    counters = BatchedRedisCounters(REDIS_URL)
    try:
        import asyncio

        counts = await asyncio.gather(*(counters.incr("batched-test", 60) for _ in range(50)))
        assert sorted(counts) == list(range(1, 51))
        assert counters.increments == 50 and counters.round_trips <= 2
        limits_view = RedisStorage("async+" + REDIS_URL, implementation="redispy", key_prefix="syndicate")
        assert await limits_view.get("batched-test") == 50
        assert 0 < redis.Redis.from_url(REDIS_URL).ttl("syndicate:batched-test") <= 60  # the window, set once
    finally:
        await counters.disconnect()


def test_content_is_served_when_the_rate_limit_counters_are_unreachable(app, session, database_url, caplog):
    """Redis down (nothing listens on port 1): partners are served, not refused, and the outage is logged."""
    api_key, article, licence = _setup(session)
    with _client(database_url, "redis://127.0.0.1:1/0") as client, caplog.at_level("WARNING"):
        token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        for _ in range(3):
            assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    assert sum("per-token rate-limit counters unavailable" in r.getMessage() for r in caplog.records) == 1


def test_a_stalled_redis_holds_one_request_and_the_next_are_served_uncounted(app, session, database_url, caplog,
                                                                             stalled_redis):
    """A Redis that takes connections and never answers: the first request gives up after the
    counters' timeout and is served; for the back-off after it, requests do not ask Redis at all."""
    redis_url, accepted = stalled_redis
    api_key, article, licence = _setup(session)
    with _client(database_url, redis_url) as client, caplog.at_level("WARNING"):
        token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
        asked = len(accepted)
        assert asked >= 1  # the first request did try the counters
        for _ in range(5):
            assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
        assert len(accepted) == asked  # backing off: nobody asked the stalled Redis again
    assert sum("per-token rate-limit counters unavailable" in r.getMessage() for r in caplog.records) == 1
