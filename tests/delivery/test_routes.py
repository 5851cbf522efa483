"""The contract around the fast path: documented in OpenAPI, same answers through plain FastAPI, CLI."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlmodel import select
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.core.config import get_settings
from api.delivery.fastpath import ContentFastPath
from api.delivery.models import SigningKey
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


def test_fast_path_takes_only_article_gets():
    def scope(method, path):
        return {"type": "http", "method": method, "path": path}

    assert ContentFastPath.handles(scope("GET", "/v1/content/articles/art_1"))
    for method, path in (("POST", "/v1/content/articles/art_1"), ("GET", "/v1/content/feed"),
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
