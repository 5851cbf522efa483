"""`GET /v1/content/feed` on the fast path (api/delivery/fastpath.py): the same status, headers and
bytes as the FastAPI route, errors included; queries FastAPI must validate are left to it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from api.delivery.fastpath import ContentFastPath
from tests.delivery.conftest import bearer

# Differ on every response, whichever path answers.
PER_REQUEST = {"x-request-id", "date", "server"}


def _scope(query: bytes) -> dict:
    return {"type": "http", "method": "GET", "path": "/v1/content/feed", "query_string": query, "headers": []}


@pytest.mark.parametrize("query", [b"", b"format=atom&limit=5", b"cursor=&format=", b"change_cursor=0&wait=3",
                                   b"token=abc&limit=200&limit=1"])
def test_the_fast_path_takes_feed_queries_it_can_read_as_fastapi_would(query: bytes) -> None:
    assert ContentFastPath.handles(_scope(query))


@pytest.mark.parametrize("query", [b"updated_since=2026-01-01T00:00:00Z", b"limit=0", b"limit=201", b"limit=ten",
                                   b"limit=", b"wait=31", b"wait=0", b"change_cursor=abc", b"change_cursor=-1"])
def test_queries_fastapi_must_validate_are_left_to_the_route(query: bytes) -> None:
    assert not ContentFastPath.handles(_scope(query))


def _comparable(response: httpx.Response) -> tuple:
    headers = sorted((k, v) for k, v in response.headers.multi_items() if k not in PER_REQUEST)
    return response.status_code, headers, response.content


async def test_the_fast_path_answers_the_feed_as_the_route_does(app, licensed):
    runtime = app.state.delivery
    runtime.start()

    async def fastapi_only(scope, receive, send):
        await FastAPI.__call__(app, scope, receive, send)

    try:
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="https://syndicate.test")
                   for target in (app, fastapi_only)]
        fast, routed = clients
        token = (await fast.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers)).json()["token"]
        first = await routed.get("/v1/content/feed", headers=bearer(token), params={"limit": 1})
        requests = [
            ({**bearer(token)}, {}),
            ({**bearer(token)}, {"limit": "1"}),
            ({**bearer(token)}, {"limit": "1", "cursor": first.json()["next_cursor"]}),
            ({**bearer(token), "Accept": "application/atom+xml"}, {}),
            ({}, {"token": token, "format": "rss"}),
            ({**bearer(token), "If-None-Match": first.headers["etag"]}, {"limit": "1"}),  # 304
            ({**bearer(token)}, {"change_cursor": "0"}),
            ({**bearer(token)}, {"cursor": "not-a-cursor"}),  # bad cursor
            ({**bearer(token)}, {"cursor": "x~not-a-change"}),
            ({**bearer(token)}, {"change_cursor": "0", "cursor": "x"}),  # not together
            ({}, {}),  # unauthenticated
            ({"Authorization": "Bearer not.a.token"}, {}),
            ({**bearer(token), "Accept": "image/png"}, {}),  # not acceptable
            ({**bearer(token)}, {"format": "pdf"}),
            ({**bearer(token)}, {"limit": "0"}),  # FastAPI's own 422, on both
            ({**bearer(token)}, {"updated_since": "yesterday"}),
        ]
        statuses = []
        for headers, params in requests:
            answers = [await client.get("/v1/content/feed", headers=headers, params=params) for client in clients]
            assert _comparable(answers[0]) == _comparable(answers[1]), (headers, params)
            assert answers[0].headers["x-request-id"]
            statuses.append(answers[0].status_code)
        assert statuses == [200, 200, 200, 200, 200, 304, 200, 422, 422, 422, 401, 401, 406, 406, 422, 422]
        for client in clients:
            await client.aclose()
    finally:
        await runtime.stop()


def test_a_feed_request_is_logged_from_the_fast_path(app, client, licensed):
    import io
    import json

    from api.core.access_log import AccessLog
    from tests.delivery.conftest import mint

    token = mint(client, licensed)["token"]
    before, buffer = app.access_log, io.StringIO()
    app.access_log = AccessLog(stream=buffer)
    try:
        response = client.get("/v1/content/feed", headers={**bearer(token), "X-Request-ID": "feed-1"})
        app.access_log.flush()
    finally:
        app.access_log = before
    (line,) = [json.loads(entry) for entry in buffer.getvalue().splitlines()]
    assert response.status_code == 200 and response.headers["x-request-id"] == "feed-1"
    assert (line["path"], line["status"], line["request_id"]) == ("/v1/content/feed", 200, "feed-1")
