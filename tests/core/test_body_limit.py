"""Request bodies over the configured limit are refused with 413 before anything parses them."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from api.partners.models import Partner
from tests.partners.test_routes import REGISTRATION


def test_a_body_over_the_limit_is_refused_by_its_declared_length(client, session, settings) -> None:
    response = client.post("/v1/partners/register", content=b"{" + b" " * settings.max_body_bytes + b"}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/payload-too-large" and body["max_bytes"] == settings.max_body_bytes
    assert session.exec(select(Partner)).all() == []


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(app, settings) -> None:
    """No Content-Length: the bytes are counted as they arrive and the request stops at the limit."""
    chunk = b" " * 65536
    chunks = settings.max_body_bytes // len(chunk) + 2
    sent: list[dict] = []
    read = 0

    async def receive() -> dict:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/partners/register", "raw_path": b"/v1/partners/register", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"/problems/payload-too-large" in b"".join(m.get("body", b"") for m in sent[1:])
    assert read < chunks  # stopped reading once past the limit


def test_a_body_within_the_limit_is_read(client) -> None:
    response = client.post("/v1/partners/register", json=REGISTRATION)
    assert response.status_code == 201, response.text
