"""Usage is recorded before the body is sent, billed once per (licence, article), grouped in commits."""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from api.core.db import session_scope
from api.delivery import usage_log
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
    """Another API process billed this (licence, article) first: its republication row turns ours non-billable."""
    article = licensed.articles[1]
    with session_scope(engine) as other:
        usage_log.add_event(other, licence_id=licensed.licence.id, partner_id=licensed.partner.id, article_id=article.id,
                            billable=True)
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


async def test_a_cancelled_request_fails_only_itself_not_its_batch(app, session, licensed):
    """Two requests wait on one batch; the client of one goes away. The other is served, and both
    events are recorded (the batch commits as a whole: see metering.py on disconnected clients)."""
    runtime = app.state.delivery
    runtime.start()
    writer = runtime.writer
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://syndicate.test") as client:
            token = (await client.post(f"/v1/licences/{licensed.licence.id}/tokens",
                                       headers=licensed.key_headers)).json()["token"]
            for article in licensed.articles:  # warm the caches: both requests reach the writer at once
                assert (await client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))).status_code == 200
            writer.gather_seconds = 0.2  # hold the batch open while one of its requests is cancelled
            gone, served = (asyncio.create_task(client.get(f"/v1/content/articles/{a.id}", headers=bearer(token)))
                            for a in licensed.articles)
            while len(writer._pending) < 2:
                await asyncio.sleep(0.001)
            gone.cancel()
            response = await served
            assert gone.cancelled()
        assert response.status_code == 200 and response.json()["id"] == licensed.articles[1].id
    finally:
        writer.gather_seconds = 0.0
        await runtime.stop()
    rows = _usage(session, licensed.licence.id)
    assert sorted(r.article_id for r in rows) == sorted([a.id for a in licensed.articles] * 2)


def test_the_sqlite_write_ahead_log_stays_bounded_under_a_steady_stream_of_commits(app, engine, monkeypatch):
    """Commits arriving faster than a passive checkpoint can finish would grow the WAL (and each
    commit's cost) without bound; the poller's checkpoint makes the log start over."""
    import os
    import sqlite3
    import threading
    import time

    import pytest

    if engine.dialect.name != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    from api.core import wal

    monkeypatch.setattr(wal, "RESTART_FRAMES", 100)  # a short log for a short test
    path = engine.url.database
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as the usage writer runs
    writer.execute("CREATE TABLE IF NOT EXISTS wal_probe (n INTEGER PRIMARY KEY, payload TEXT)")
    stop, commits = threading.Event(), [0]

    def commit_forever() -> None:
        while not stop.is_set():
            writer.execute("INSERT INTO wal_probe (payload) VALUES (?)", ("x" * 100,))
            commits[0] += 1
            time.sleep(0)  # a gap between commits, as between usage batches

    thread = threading.Thread(target=commit_forever)
    thread.start()
    try:
        # Bounded by work done, not by the clock alone: a loaded machine commits more slowly.
        deadline, polls = time.monotonic() + 30, 0
        while (commits[0] < 2000 or polls < 20) and time.monotonic() < deadline:
            app.state.delivery.poll_once()
            polls += 1
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
        writer.execute("DROP TABLE wal_probe")
        writer.close()
    # The frames in the log since it last started over, against the frames all those commits wrote.
    probe = sqlite3.connect(path)
    busy, in_log, _checkpointed = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    probe.close()
    assert commits[0] > 500, f"only {commits[0]} commits: the test did not stress the log"
    assert in_log < commits[0] / 4, f"{in_log} frames in the log after {commits[0]} commits: it never started over"
