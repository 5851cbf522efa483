"""The contract around the fast path: documented in OpenAPI, same answers through plain FastAPI, CLI."""

from __future__ import annotations

import json
import re

import httpx
import jsonschema
from fastapi import FastAPI
from sqlmodel import select
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.core.config import get_settings
from api.delivery.fastpath import ContentFastPath
from api.delivery.models import SigningKey
from api.delivery.schemas import NINJS_EXAMPLE
from tests.conftest import STANDARDS
from tests.delivery.conftest import bearer, mint


def test_content_operations_are_documented(app):
    document = app.openapi()
    article = document["paths"]["/v1/content/articles/{article_id}"]["get"]
    assert article["tags"] == ["content"] and article["summary"]
    assert {"application/json", "application/vnd.iptc.ninjs+json", "text/html"} <= set(article["responses"]["200"]["content"])
    assert {"304", "401", "403", "404", "406", "410", "429", "503"} <= set(article["responses"])
    assert {p["name"] for p in article["parameters"]} >= {"article_id", "token", "format", "if-none-match"}
    assert document["paths"]["/v1/licences/{licence_id}/tokens"]["post"]["tags"] == ["licences"]
    assert "/.well-known/jwks.json" in document["paths"] and "/v1/content/feed" in document["paths"]


def test_fast_path_takes_only_article_and_feed_gets():
    def scope(method, path):
        return {"type": "http", "method": method, "path": path}

    assert ContentFastPath.handles(scope("GET", "/v1/content/articles/art_1"))
    for method, path in (("POST", "/v1/content/articles/art_1"), ("POST", "/v1/content/feed"),
                         ("GET", "/v1/content/articles/"), ("GET", "/v1/content/articles/a/b")):
        assert not ContentFastPath.handles(scope(method, path))


async def test_the_fastapi_route_gives_the_same_answers(app, session, licensed):
    """Bypass the fast path (call FastAPI itself): the documented route shares the implementation."""
    runtime = app.state.delivery
    runtime.start()
    try:
        async def fastapi_only(scope, receive, send):
            await FastAPI.__call__(app, scope, receive, send)

        async def front(scope, receive, send):
            await app(scope, receive, send)

        answers = []
        for target in (front, fastapi_only):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="https://syndicate.test") as c:
                token = (await c.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers)).json()["token"]
                ok = await c.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(token))
                missing = await c.get(f"/v1/content/articles/{licensed.articles[0].id}")
                answers.append((ok.status_code, ok.headers["etag"], ok.json()["attribution"]["credit_line"],
                                missing.status_code, missing.json()["type"]))
        assert answers[0] == answers[1]
        assert answers[0][0] == 200 and answers[0][3] == 401
    finally:
        await runtime.stop()


def test_keys_rotate_command(client, session, licensed, monkeypatch, database_url):
    old_kid = mint(client, licensed)["kid"]
    monkeypatch.setenv("SYNDICATE_DATABASE_URL", database_url)
    monkeypatch.setenv("SYNDICATE_SECRET_KEY", "test-secret-key-which-is-long-enough")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["keys", "rotate"])
        listed = CliRunner().invoke(cli_app, ["keys", "list"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    keys = {k.kid: k for k in session.exec(select(SigningKey)).all()}
    [new_kid] = [kid for kid, k in keys.items() if k.retired_at is None]
    assert new_kid != old_kid and new_kid in result.output and keys[old_kid].verify_until is not None
    assert old_kid in listed.output and "retired" in listed.output
    # The running API (another "process" as far as the CLI is concerned) signs with the new key.
    client.app.state.delivery.poll_once()
    assert mint(client, licensed)["kid"] == new_kid
    assert client.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(mint(client, licensed)["token"])).status_code == 200


async def test_the_fast_path_and_the_route_give_the_same_problems(app, session, licensed):
    """Same status, same body, byte for byte: one function builds every problem document."""
    runtime = app.state.delivery
    runtime.start()
    try:
        async def fastapi_only(scope, receive, send):
            await FastAPI.__call__(app, scope, receive, send)

        answers = []
        for target in (app, fastapi_only):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="https://syndicate.test") as c:
                token = (await c.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers)).json()["token"]
                url = f"/v1/content/articles/{licensed.articles[0].id}"
                problems = [await c.get(url, headers=bearer(token), params={"format": "pdf"}),
                            await c.get(url, headers={**bearer(token), "Accept": "image/png"}),
                            await c.get(url), await c.get("/v1/content/articles/art_missing", headers=bearer(token))]
                answers.append([(p.status_code, p.headers["content-type"], p.content) for p in problems])
        assert answers[0] == answers[1]
        assert [a[0] for a in answers[0]] == [406, 406, 401, 404]
        pdf = json.loads(answers[0][0][2])
        assert pdf["type"] == "/problems/format-not-acceptable" and pdf["available"] == ["json", "ninjs", "html"]
        assert all(value is not None for _s, _t, body in answers[0] for value in json.loads(body).values())
    finally:
        await runtime.stop()


def test_the_fast_path_sends_a_request_id(client, licensed):
    token = mint(client, licensed)["token"]
    url = f"/v1/content/articles/{licensed.articles[0].id}"
    first, second = client.get(url, headers=bearer(token)), client.get(url)
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"]) and second.status_code == 401
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert client.get(url, headers={**bearer(token), "X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    unsafe = client.get(url, headers={**bearer(token), "X-Request-ID": "<script>"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe)


def test_the_contract_documents_validators_rate_limit_headers_and_api_key_errors(app):
    paths = app.openapi()["paths"]
    for path in ("/v1/content/articles/{article_id}", "/v1/content/feed"):
        responses = paths[path]["get"]["responses"]
        assert {"ETag", "Last-Modified"} <= set(responses["200"]["headers"]), path
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} <= set(
            responses["429"]["headers"]), path
        formats = next(p for p in paths[path]["get"]["parameters"] if p["name"] == "format")
        assert "406" in formats["description"]
    for method in ("post", "get"):
        assert "401" in paths["/v1/licences/{licence_id}/tokens"][method]["responses"]
    assert "401" in paths["/v1/licences/{licence_id}/tokens/{jti}"]["delete"]["responses"]


def test_the_documented_ninjs_example_is_valid_ninjs():
    schema = json.loads((STANDARDS / "ninjs" / "ninjs-schema_3.1.json").read_text())
    jsonschema.validate(NINJS_EXAMPLE, schema)
