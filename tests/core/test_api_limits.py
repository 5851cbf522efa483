"""The JSON API's rate limits, its capacity gate and pool timeout, and /healthz under a flood."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.app import create_app
from benchmarks.api_flood import flood
from tests.builders import make_api_key, make_partner
from tests.conftest import make_settings
from tests.live_server import served

REDIS_URL = "redis://127.0.0.1:6379/15"


def _fresh_address() -> str:
    """Counters in Redis outlive a run: every test counts for an address of its own."""
    return f"198.51.100.{secrets.randbelow(250) + 1}-{secrets.token_hex(4)}"


@contextmanager
def _client(database_url: str, *, address: str | None = None, **overrides) -> Iterator[TestClient]:
    application = create_app(make_settings(database_url, **overrides), run_worker=False)
    try:
        with TestClient(application, raise_server_exceptions=False,
                        client=(address or _fresh_address(), 50000)) as client:
            yield client
    finally:
        application.state.engine.dispose()


def _assert_refused(response, problem: str = "/problems/api-rate-limited") -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == problem
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.json()["retry_after"] == int(response.headers["retry-after"])


def test_one_key_is_limited_and_told_when_to_come_back(database_url, app, session) -> None:
    key = make_api_key(session, make_partner(session))
    other = make_api_key(session, make_partner(session))
    session.commit()
    with _client(database_url, api_key_rate_limit="3/minute", address_rate_limit="", anonymous_rate_limit="") as client:
        answers = [client.get("/v1/licences", headers={"X-API-Key": key}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        assert answers[0].headers["ratelimit-limit"] == "3" and answers[0].headers["ratelimit-policy"] == "3;w=60"
        refused = client.get("/v1/licences", headers={"X-API-Key": key})
        _assert_refused(refused)
        assert refused.headers["ratelimit-remaining"] == "0" and "SYNDICATE_API_KEY_RATE_LIMIT" in refused.json()["detail"]
        # Another key has its own budget; the refused one was never looked up.
        assert client.get("/v1/licences", headers={"X-API-Key": other}).status_code == 200
        # Health and the problem's documentation are not counted.
        assert client.get("/healthz").status_code == 200
        documented = client.get("/problems/api-rate-limited")
        assert documented.status_code == 200 and documented.json()["status"] == 429


def test_anonymous_requests_are_limited_per_client_address(database_url, app) -> None:
    address = _fresh_address()
    with _client(database_url, address=address, anonymous_rate_limit="2/minute", address_rate_limit="",
                 api_key_rate_limit="") as client:
        assert client.get("/v1/articles").status_code == 200
        assert client.get("/v1/licence-requests/form").status_code == 200
        _assert_refused(client.post("/v1/quotes", json={}))
        _assert_refused(client.post("/v1/partners/register", json={}))
        # A client cannot reset its budget by claiming another address: the peer is not a trusted proxy.
        _assert_refused(client.get("/v1/articles", headers={"X-Forwarded-For": "203.0.113.7"}))


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(database_url, app) -> None:
    with _client(database_url, address="10.1.2.3", trusted_proxies="10.1.2.3", anonymous_rate_limit="1/minute",
                 address_rate_limit="", api_key_rate_limit="") as client:
        first, second = _fresh_address(), _fresh_address()
        assert client.get("/v1/articles", headers={"X-Forwarded-For": first}).status_code == 200
        _assert_refused(client.get("/v1/articles", headers={"X-Forwarded-For": first}))
        # Behind the proxy, readers at different addresses have budgets of their own.
        assert client.get("/v1/articles", headers={"X-Forwarded-For": f"{second}, 10.1.2.3"}).status_code == 200


def test_every_request_counts_against_its_address_even_with_made_up_keys(database_url, app) -> None:
    with _client(database_url, address_rate_limit="3/minute", api_key_rate_limit="100/minute",
                 anonymous_rate_limit="") as client:
        answers = [client.get("/v1/licences", headers={"X-API-Key": f"sk_live_made-up-{n}"}) for n in range(3)]
        assert [a.status_code for a in answers] == [401, 401, 401]
        refused = client.get("/v1/licences", headers={"X-API-Key": "sk_live_made-up-4"})
        _assert_refused(refused)
        assert "SYNDICATE_ADDRESS_RATE_LIMIT" in refused.json()["detail"]


def test_counters_are_shared_between_workers_through_redis(database_url, app, session) -> None:
    key = make_api_key(session, make_partner(session))
    session.commit()
    limited = dict(redis_url=REDIS_URL, api_key_rate_limit="4/minute", address_rate_limit="", anonymous_rate_limit="")
    with _client(database_url, **limited) as one, _client(database_url, **limited) as two:
        answers = [(one, two)[n % 2].get("/v1/licences", headers={"X-API-Key": key}) for n in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        _assert_refused(one.get("/v1/licences", headers={"X-API-Key": key}))
        _assert_refused(two.get("/v1/licences", headers={"X-API-Key": key}))


def test_anonymous_quotes_are_limited_per_address_through_redis(database_url, app) -> None:
    address = _fresh_address()
    limited = dict(redis_url=REDIS_URL, anonymous_rate_limit="2/minute", address_rate_limit="", api_key_rate_limit="")
    with _client(database_url, address=address, **limited) as one, \
            _client(database_url, address=address, **limited) as two:
        assert one.post("/v1/quotes", json={}).status_code == 422  # counted, and told what is wrong
        assert two.post("/v1/quotes", json={}).status_code == 422
        _assert_refused(one.post("/v1/quotes", json={}))


def test_a_stalled_redis_gives_up_and_the_request_is_served_uncounted(database_url, app, stalled_redis) -> None:
    """redis-py waits forever by default: every limit's Redis client has a timeout, and the JSON
    API's limits serve rather than refuse when it passes."""
    redis_url, accepted = stalled_redis
    limited = dict(redis_url=redis_url, anonymous_rate_limit="2/minute", address_rate_limit="", api_key_rate_limit="")
    with _client(database_url, **limited) as client:
        for _ in range(3):  # past the limit: nothing was counted
            assert client.post("/v1/quotes", json={}).status_code == 422
    assert accepted  # it did ask the stalled Redis


def test_a_sign_in_is_refused_with_a_503_not_let_through_when_its_counters_are_stalled(database_url, app,
                                                                                       stalled_redis) -> None:
    """The sign-in limits guard against guessing passwords: unreachable counters refuse the attempt
    with a problem saying so (and when to retry), not a bare 500 and never an uncounted try."""
    redis_url, _accepted = stalled_redis
    with _client(database_url, redis_url=redis_url, login_rate_limit="5/minute") as client:
        answer = client.post("/v1/staff/login", json={"email": "someone@example.com", "password": "x" * 12})
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/counters-unavailable" and answer.headers["retry-after"] == "5"


def test_every_limit_gives_up_on_redis_after_its_timeout(database_url) -> None:
    from api.core.ratelimit import REDIS_TIMEOUT_SECONDS, async_counter_storage, counter_storage

    settings = make_settings(database_url, redis_url=REDIS_URL)
    for client in (async_counter_storage(settings).bridge.get_connection(),  # type: ignore[union-attr]
                   counter_storage(settings).get_connection()):  # type: ignore[attr-defined]
        options = client.connection_pool.connection_kwargs
        assert options["socket_timeout"] == options["socket_connect_timeout"] == REDIS_TIMEOUT_SECONDS


def test_a_request_that_finds_no_connection_is_a_quick_503_and_health_still_answers(database_url, app) -> None:
    with _client(database_url, api_threads=2, db_pool_timeout_seconds=0.2) as client:
        engine = client.app.state.engine
        held = [engine.connect() for _ in range(2)]  # every connection of the API's pool
        try:
            busy = client.get("/v1/articles")
            assert busy.status_code == 503, busy.text
            assert busy.headers["content-type"] == "application/problem+json"
            assert busy.json()["type"] == "/problems/at-capacity"
            assert busy.headers["retry-after"] == "1"
            assert client.get("/healthz").json() == {"status": "ok"}
        finally:
            for connection in held:
                connection.close()
        assert client.get("/v1/articles").status_code == 200


def test_the_content_path_does_not_share_the_api_pool(database_url, app) -> None:
    with _client(database_url, api_threads=2) as client:
        assert client.app.state.delivery.engine is not client.app.state.engine
        assert client.app.state.delivery.engine.pool is not client.app.state.engine.pool


def test_a_flood_on_one_key_is_refused_at_the_door_and_health_answers_throughout(database_url, app, session) -> None:
    """200 concurrent requests on one key against a real server: 429s and 200s (503s only if every thread
    stayed busy), never a 500, every refusal problem+json, and /healthz answering all the while."""
    key = make_api_key(session, make_partner(session))
    session.commit()
    application = create_app(make_settings(database_url, api_key_rate_limit="50/minute", address_rate_limit="",
                                           anonymous_rate_limit="", api_threads=8), run_worker=False)
    try:
        with served(application) as url:
            result = asyncio.run(flood(url, headers={"X-API-Key": key}, requests=200, concurrency=200, seconds=120))
    finally:
        application.state.engine.dispose()
    assert result.failed == 0 and result.not_problem_json == 0
    assert set(result.statuses) <= {200, 429, 503} and sum(result.statuses.values()) == 200
    assert result.statuses[429] >= 150 and result.statuses[200] + result.statuses[503] == 50
    assert set(result.problem_types) <= {"/problems/api-rate-limited", "/problems/at-capacity"}
    assert result.health and result.health_failures == 0


def test_the_pool_and_the_thread_pool_agree(database_url, app) -> None:
    import anyio.to_thread

    with _client(database_url, api_threads=3) as client:
        assert client.app.state.engine.pool.size() == 3
        tokens = client.portal.call(lambda: _async(anyio.to_thread.current_default_thread_limiter().total_tokens))
        assert tokens == 3


async def _async(value):
    return value


async def test_past_the_gate_a_request_waits_briefly_then_is_told_to_come_back(database_url) -> None:
    """No more requests inside than API threads: one more waits on the loop, then is a 503 at-capacity."""
    import httpx

    from api.core.api_limits import CapacityGate

    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_app(scope, receive, send) -> None:
        entered.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    gate = CapacityGate(slow_app, make_settings(database_url, api_threads=1, db_pool_timeout_seconds=0.1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url="http://test") as client:
        inside = asyncio.create_task(client.get("/v1/articles"))
        await entered.wait()  # it holds the only place
        refused = await client.get("/v1/licences")
        assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/at-capacity" and refused.headers["retry-after"] == "1"
        release.set()
        assert (await inside).status_code == 200
        assert (await client.get("/v1/licences")).status_code == 200  # the place was given back
