"""The delivery caches stay honest: changes made here or in another process, changes racing a
cache fill, and the caches' bounds."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import httpx
from sqlalchemy import text

from api.catalogue import service as catalogue
from api.core.db import utcnow
from api.delivery.snapshots import ViewCache
from tests.builders import TEST_ACTOR, make_article, make_licence
from tests.delivery.conftest import bearer, mint

WITHIN = 1.5  # seconds: the poller runs every 0.5 s


def _when(engine, moment):
    return moment if engine.dialect.name == "postgresql" else moment.replace(tzinfo=None).isoformat(sep=" ")


def _elsewhere(engine, statement: str, counter: str, **params) -> None:
    """A change committed as another API process would: SQL that bypasses this process's ORM hooks,
    with the change counter that process's commit bumps."""
    with engine.begin() as connection:
        connection.execute(text(statement), params)
        connection.execute(text("INSERT INTO delivery_generation (name, value) VALUES (:name, 1) ON CONFLICT (name) "
                                "DO UPDATE SET value = delivery_generation.value + 1"), {"name": counter})


def _article_generation(engine) -> int:
    """Read as the poller reads (outside any transaction, so SQLite's write lock is not needed)."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT value FROM delivery_generation WHERE name = 'article'")
        row = cursor.fetchone()
        connection.rollback()
        return row[0] if row else 0
    finally:
        connection.close()


def _settled(runtime) -> None:
    """Wait until the poller has seen the database as it is now, so the next change is the only one
    it can notice (the test data just written would otherwise trigger a clear of its own)."""
    deadline = time.monotonic() + 3
    while runtime._marks != runtime._read_marks():
        assert time.monotonic() < deadline, "the poller is not polling"
        time.sleep(0.05)


def _eventually(fetch, status: int, within: float = WITHIN):
    """Fetch until the answer has `status`; fail if it takes longer than `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = fetch()
        if response.status_code == status:
            return response
        assert time.monotonic() < deadline, f"still {response.status_code} after {within} s"
        time.sleep(0.05)


# --- another process, seen by the poller thread (nobody calls poll_once) ----------------------------

def test_a_token_revoked_by_another_process_is_refused_within_a_second_and_a_half(client, licensed, engine, app):
    revoked, kept = mint(client, licensed), mint(client, licensed)
    url = f"/v1/content/articles/{licensed.articles[0].id}"
    _settled(app.state.delivery)
    assert client.get(url, headers=bearer(revoked["token"])).status_code == 200  # verified and cached
    _elsewhere(engine, "UPDATE licence_token SET revoked_at = :now WHERE jti = :jti", "token",
               now=_when(engine, utcnow()), jti=revoked["jti"])
    refused = _eventually(lambda: client.get(url, headers=bearer(revoked["token"])), 401)
    assert refused.json()["type"] == "/problems/token-revoked"
    assert client.get(url, headers=bearer(kept["token"])).status_code == 200  # only that token


def test_a_licence_suspended_by_another_process_is_refused_within_a_second_and_a_half(client, licensed, engine, app):
    token = mint(client, licensed)["token"]
    url = f"/v1/content/articles/{licensed.articles[0].id}"
    _settled(app.state.delivery)
    assert client.get(url, headers=bearer(token)).status_code == 200
    _elsewhere(engine, "UPDATE licence SET state = 'suspended' WHERE id = :id", "licence", id=licensed.licence.id)
    refused = _eventually(lambda: client.get(url, headers=bearer(token)), 403)
    assert refused.json()["type"] == "/problems/licence-not-active"


def test_a_takedown_elsewhere_is_seen_even_when_that_hosts_clock_is_behind(client, licensed, engine, app):
    """The takedown's `updated_at` is older than the newest article's (the other host's clock is an
    hour behind): only the change counter can tell this process."""
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    url = f"/v1/content/articles/{article.id}"
    _settled(app.state.delivery)
    assert client.get(url, headers=bearer(token)).status_code == 200
    behind = utcnow() - timedelta(hours=1)
    _elsewhere(engine, "UPDATE article SET status = 'withdrawn', withdrawn_at = :at, updated_at = :at, "
                       "version = version + 1 WHERE id = :id", "article", at=_when(engine, behind), id=article.id)
    assert _eventually(lambda: client.get(url, headers=bearer(token)), 410).json()["type"] == "/problems/content-withdrawn"


def test_an_article_change_committed_here_bumps_the_counter_other_processes_poll(session, engine):
    article = make_article(session)
    session.commit()
    before = _article_generation(engine)
    catalogue.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    assert _article_generation(engine) == before  # nothing before the commit
    session.commit()
    assert _article_generation(engine) == before + 1
    make_article(session)
    session.commit()
    assert _article_generation(engine) == before + 1  # a new article is in nobody's cache


def test_changes_made_by_another_process_are_seen_after_a_poll(client, licensed, engine, app):
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    url = f"/v1/content/articles/{article.id}"
    runtime = app.state.delivery
    runtime._stop.set()  # no poller: this test polls by hand, to show what a poll changes
    runtime._poller.join()
    assert client.get(url, headers=bearer(token)).status_code == 200
    _elsewhere(engine, "UPDATE licence SET state = 'suspended' WHERE id = :id", "licence", id=licensed.licence.id)
    assert client.get(url, headers=bearer(token)).status_code == 200  # still cached
    runtime.poll_once()
    assert client.get(url, headers=bearer(token)).status_code == 403
    _elsewhere(engine, "UPDATE licence SET state = 'active' WHERE id = :id", "licence", id=licensed.licence.id)
    _elsewhere(engine, "UPDATE article SET status = 'withdrawn' WHERE id = :id", "article", id=article.id)
    runtime.poll_once()
    assert client.get(url, headers=bearer(token)).status_code == 410


# --- a change that races a cache fill ------------------------------------------------------------

class _SlowLoad:
    """Wraps a runtime loader: the database read happens, then the load waits until released."""

    def __init__(self, load) -> None:
        self.load = load
        self.read = threading.Event()
        self.release = threading.Event()

    def __call__(self, key):
        view = self.load(key)
        self.read.set()
        self.release.wait(10)
        return view


async def _race(app, licensed, monkeypatch, loader: str, change) -> tuple[int, int]:
    """The first request's load reads the old state; `change` commits and a poll runs before the
    load returns. Returns the statuses of that request and of the next one."""
    runtime = app.state.delivery
    runtime.start()
    slow = _SlowLoad(getattr(runtime, loader))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://syndicate.test") as c:
            token = (await c.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers)).json()["token"]
            url = f"/v1/content/articles/{licensed.articles[0].id}"
            monkeypatch.setattr(runtime, loader, slow)
            first = asyncio.create_task(c.get(url, headers=bearer(token)))
            assert await asyncio.get_running_loop().run_in_executor(None, slow.read.wait, 10)
            change()
            runtime.poll_once()
            slow.release.set()
            raced = (await first).status_code
            monkeypatch.setattr(runtime, loader, slow.load)
            return raced, (await c.get(url, headers=bearer(token))).status_code
    finally:
        slow.release.set()
        await runtime.stop()


async def test_a_licence_suspended_during_its_load_is_not_cached_as_active(app, licensed, engine, monkeypatch):
    raced, after = await _race(app, licensed, monkeypatch, "_load_licence", lambda: _elsewhere(
        engine, "UPDATE licence SET state = 'suspended' WHERE id = :id", "licence", id=licensed.licence.id))
    assert raced == 200  # read before the suspension committed: served as read
    assert after == 403  # but not remembered


async def test_an_article_withdrawn_during_its_load_is_not_cached_as_published(app, licensed, engine, monkeypatch):
    raced, after = await _race(app, licensed, monkeypatch, "_load_article", lambda: _elsewhere(
        engine, "UPDATE article SET status = 'withdrawn', version = version + 1 WHERE id = :id", "article",
        id=licensed.articles[0].id))
    assert (raced, after) == (200, 410)


def test_a_view_cache_keeps_only_what_was_read_after_the_last_invalidation():
    cache = ViewCache(limit=10)
    epoch = cache.epoch
    cache.invalidate("other")  # any invalidation, even of another key, fails a store begun before it
    cache.store("a", "stale", epoch)
    assert "a" not in cache
    cache.store("a", "fresh", cache.epoch)
    assert cache.get("a") == "fresh"


# --- bounds --------------------------------------------------------------------------------------

def test_view_caches_are_bounded_and_evict_the_oldest(client, session, licensed, app, monkeypatch):
    runtime = app.state.delivery
    # The poller empties both caches when it sees this test's own commits (as another process's would
    # be), at a moment of its choosing: stopped first (and waited for), so only this process's reads
    # and evictions decide what is kept. The client's lifespan starts a new one for the next test.
    runtime._stop.set()
    runtime._poller.join()
    monkeypatch.setattr(runtime.articles, "limit", 2)
    monkeypatch.setattr(runtime.licences, "limit", 1)
    token = mint(client, licensed)["token"]
    third = make_article(session)
    licence = make_licence(session, partner=licensed.partner, scope="catalogue")
    session.commit()
    catalogue_token = mint(client, licensed, licence.id)["token"]
    for article in licensed.articles:
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    assert list(runtime.licences) == [licensed.licence.id]
    assert client.get(f"/v1/content/articles/{third.id}", headers=bearer(catalogue_token)).status_code == 200
    assert list(runtime.articles) == [licensed.articles[1].id, third.id]  # the first fetched went first
    assert list(runtime.licences) == [licence.id]
    # Evicted views are simply read again.
    assert client.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(token)).status_code == 200
    assert list(runtime.licences) == [licensed.licence.id] and len(runtime.articles) == 2


class _RecordingCache:
    """A cache of some other app in this process (tests and tools build several)."""

    def __init__(self, engine, *, fails: bool = False) -> None:
        self.engine, self.fails = engine, fails
        self.seen: list[set] = []
        self.cleared = 0

    def invalidate(self, changes) -> None:
        self.seen.append(set(changes))
        if self.fails:
            raise RuntimeError("this cache's database is gone")

    def clear(self) -> None:
        self.cleared += 1


def test_a_commit_reaches_only_the_caches_of_its_own_database_and_never_fails_over_one(session, engine, tmp_path):
    from sqlalchemy import create_engine

    from api.delivery import invalidation

    elsewhere = _RecordingCache(create_engine(f"sqlite:///{tmp_path / 'other.db'}"), fails=True)
    broken_here = _RecordingCache(engine, fails=True)
    invalidation.register(elsewhere)
    invalidation.register(broken_here)
    article = make_article(session)
    session.commit()
    catalogue.withdraw_article(session, article.id, reason="legal", actor=TEST_ACTOR)
    session.commit()  # would raise if a cache's failure escaped the committed transaction
    assert elsewhere.seen == []
    assert ("article", article.id) in broken_here.seen[-1] and broken_here.cleared == len(broken_here.seen)
