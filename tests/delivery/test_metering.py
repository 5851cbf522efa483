"""Usage is recorded before the body is sent, billed once per (licence, article), grouped in commits."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlmodel import select

from api.core.db import session_scope, utcnow
from api.delivery.models import UsageEvent
from tests.delivery.conftest import bearer, mint


def _usage(session, licence_id):
    session.expire_all()
    return session.exec(select(UsageEvent).where(UsageEvent.licence_id == licence_id).order_by(UsageEvent.id)).all()


def test_every_200_is_recorded_and_only_the_first_fetch_is_billable(client, session, licensed):
    minted = mint(client, licensed)
    article = licensed.articles[0]
    for fmt in ("json", "ninjs", "html", "json"):
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(minted["token"]),
                          params={"format": fmt}).status_code == 200
    etag = client.get(f"/v1/content/articles/{article.id}", headers=bearer(minted["token"])).headers["etag"]
    assert client.get(f"/v1/content/articles/{article.id}",
                      headers={**bearer(minted["token"]), "If-None-Match": etag}).status_code == 304
    rows = _usage(session, licensed.licence.id)
    assert len(rows) == 5  # the 304 is not a delivery
    assert sum(r.billable for r in rows) == 1
    assert {(r.partner_id, r.article_id, r.article_version, r.token_id) for r in rows} == {
        (licensed.partner.id, article.id, article.version, minted["jti"])}
    assert sorted(r.format for r in rows) == ["html", "json", "json", "json", "ninjs"]


async def test_concurrent_fetches_never_double_bill_and_share_commits(app, session, licensed):
    transport = httpx.ASGITransport(app=app)
    runtime = app.state.delivery
    runtime.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://syndicate.test") as client:
            response = await client.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers)
            token = response.json()["token"]
            batches_before = runtime.writer.batches
            responses = await asyncio.gather(*[
                client.get(f"/v1/content/articles/{licensed.articles[i % 2].id}", headers=bearer(token))
                for i in range(60)])
        assert all(r.status_code == 200 for r in responses)
        commits = runtime.writer.batches - batches_before
    finally:
        await runtime.stop()
    rows = _usage(session, licensed.licence.id)
    assert len(rows) == 60
    assert sorted(r.article_id for r in rows if r.billable) == sorted(a.id for a in licensed.articles)
    assert commits < 60  # grouped: fewer commits than requests


def test_billable_row_already_written_by_another_process_is_not_billed_again(client, session, licensed, engine):
    """Another API process billed this (licence, article) first: the unique index turns ours non-billable."""
    article = licensed.articles[1]
    with session_scope(engine) as other:
        other.add(UsageEvent(licence_id=licensed.licence.id, partner_id=licensed.partner.id, article_id=article.id,
                             article_version=1, format="json", billable=True))
    token = mint(client, licensed)["token"]
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    rows = _usage(session, licensed.licence.id)
    assert len(rows) == 2 and sum(r.billable for r in rows) == 1


def test_when_usage_cannot_be_recorded_the_body_is_not_served(client, session, licensed, app):
    token = mint(client, licensed)["token"]
    app.state.delivery.writer.stop()  # the client's next startup starts a new writer
    response = client.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(token))
    assert response.status_code == 503 and response.json()["type"] == "/problems/usage-not-recorded"
    assert licensed.articles[0].headline not in response.text
    assert _usage(session, licensed.licence.id) == []


def test_a_failing_usage_write_fails_the_request(client, session, licensed, monkeypatch):
    """A database error in the writer's batch: the waiting request answers 503 instead of the body."""
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    writer = client.app.state.delivery.writer

    async def broken(connection, usages):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "_write", broken)
    response = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))
    assert response.status_code == 503 and article.headline not in response.text
    assert response.json()["type"] == "/problems/usage-not-recorded"
    monkeypatch.undo()
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    assert len(_usage(session, licensed.licence.id)) == 1


def test_changes_made_by_another_process_are_seen_after_a_poll(client, session, licensed, engine, app):
    """Raw SQL bypasses this process's ORM hooks, like a change made by another API worker."""
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    runtime = app.state.delivery
    with engine.begin() as connection:
        connection.execute(text("UPDATE licence SET state = 'suspended' WHERE id = :id"), {"id": licensed.licence.id})
        connection.execute(text("INSERT INTO delivery_generation (name, value) VALUES ('licence', 1000) "
                                "ON CONFLICT (name) DO UPDATE SET value = delivery_generation.value + 1000"))
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200  # still cached
    runtime.poll_once()
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 403
    with engine.begin() as connection:
        connection.execute(text("UPDATE licence SET state = 'active' WHERE id = :id"), {"id": licensed.licence.id})
        connection.execute(text("UPDATE delivery_generation SET value = value + 1 WHERE name = 'licence'"))
        connection.execute(text("UPDATE article SET status = 'withdrawn', updated_at = :now WHERE id = :id"),
                           {"id": article.id, "now": utcnow() if engine.dialect.name == "postgresql"
                            else utcnow().replace(tzinfo=None).isoformat(sep=" ")})
    runtime.poll_once()
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 410
