"""Long-poll: `GET /v1/content/feed?wait=N` answers as soon as a covered change commits, 304 (or an
empty page) when none does, and waiting requests share one notifier instead of polling each."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from sqlalchemy import event
from sqlmodel import Session

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.delivery.longpoll import ChangeNotifier
from api.delivery.snapshots import LicenceView
from tests.builders import TEST_ACTOR, make_article
from tests.delivery.conftest import bearer, mint


def _change_later(test_engine, article_id: str, headline: str, delay: float) -> threading.Thread:
    def change() -> None:
        time.sleep(delay)
        with Session(test_engine) as other:
            catalogue.update_article(other, article_id, ArticleUpdate(headline=headline), actor=TEST_ACTOR)
            other.commit()

    thread = threading.Thread(target=change, daemon=True)
    thread.start()
    return thread


def test_a_waiting_request_is_answered_soon_after_a_covered_change(client, licensed, test_engine):
    token = mint(client, licensed)["token"]
    cursor = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    changer = _change_later(test_engine, licensed.articles[0].id, "While you waited", delay=0.5)
    started = time.monotonic()
    answer = client.get("/v1/content/feed", headers=bearer(token), params={"change_cursor": cursor, "wait": 20})
    waited = time.monotonic() - started
    changer.join()
    assert answer.status_code == 200 and [i["headline"] for i in answer.json()["items"]] == ["While you waited"]
    # A correctness bound, not a benchmark: woken by the commit, not by the 20 s time-out.
    assert waited < 5, waited


def test_a_change_the_licence_does_not_cover_does_not_answer_it(client, session, licensed, test_engine):
    token = mint(client, licensed)["token"]
    outside = make_article(session)
    session.commit()
    cursor = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    changer = _change_later(test_engine, outside.id, "Not yours", delay=0.2)
    answer = client.get("/v1/content/feed", headers=bearer(token), params={"change_cursor": cursor, "wait": 2})
    changer.join()
    assert answer.status_code == 304 and answer.headers["syndicate-change-cursor"] == cursor


def test_on_time_out_304_with_a_cursor_or_etag_else_an_empty_page(client, licensed):
    token = mint(client, licensed)["token"]
    page = client.get("/v1/content/feed", headers=bearer(token))
    cursor = page.json()["change_cursor"]
    assert client.get("/v1/content/feed", headers=bearer(token),
                      params={"change_cursor": cursor, "wait": 1}).status_code == 304
    quiet = {"updated_since": "2999-01-01T00:00:00Z", "wait": 1}
    empty = client.get("/v1/content/feed", headers=bearer(token), params=quiet)
    assert empty.status_code == 200 and empty.json()["items"] == [] and empty.json()["change_cursor"] == cursor
    revalidated = client.get("/v1/content/feed", headers={**bearer(token), "If-None-Match": '"anything"'}, params=quiet)
    assert revalidated.status_code == 304


def test_waiters_share_the_notifier_and_never_query_each(app, session, licensed, test_engine):
    """Fifty waiters for a second: the only queries are the notifier's (SQLite: one a poll interval;
    PostgreSQL: none, it listens). Then one local commit wakes them all. Statements are counted on
    the app's engine and on the notifier's own reader, the engine its polls really use."""
    engine = app.state.engine
    statements: list[str] = []
    record = lambda *args: statements.append(args[2]) if args[2].lstrip().upper().startswith("SELECT") else None  # noqa: E731

    async def scenario() -> list[bool]:
        notifier = ChangeNotifier(engine, poll_interval=0.1)
        await notifier.start()
        licence = LicenceView.of(licensed.licence)
        watched = (engine, notifier._reader)
        for each in watched:
            event.listen(each, "before_cursor_execute", record)
        try:
            head, polls_before = notifier.head, notifier.polls
            waiters = [asyncio.create_task(notifier.wait(licence, head, 10)) for _ in range(50)]
            await asyncio.sleep(1)
            queries_while_waiting, polls = len(statements), notifier.polls - polls_before
            assert not any(w.done() for w in waiters)
            await asyncio.to_thread(_update, test_engine, licensed.articles[1].id)
            woken = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        finally:
            for each in watched:
                event.remove(each, "before_cursor_execute", record)
            await notifier.stop()
        if engine.dialect.name == "sqlite":
            # Every query heard is one of the shared polls (so the listener hears the notifier), and
            # there is one a poll interval, not one per waiter.
            assert 1 <= polls <= 12 and queries_while_waiting == polls, (polls, statements)
        else:
            assert polls == 0 and queries_while_waiting == 0, statements
        return woken

    assert asyncio.run(scenario()) == [True] * 50


def _update(test_engine, article_id: str) -> None:
    with Session(test_engine) as other:
        catalogue.update_article(other, article_id, ArticleUpdate(headline="Wake up"), actor=TEST_ACTOR)
        other.commit()


@pytest.mark.postgres_only
def test_another_workers_commit_wakes_waiters_through_listen_notify(app, licensed, test_engine):
    """With this process's own after-commit callback switched off, the only way the news arrives is
    the worker's LISTEN connection: as it does for a commit made by another worker."""

    async def scenario() -> bool:
        notifier = ChangeNotifier(app.state.engine)
        await notifier.start()
        notifier._unsubscribe()  # deaf to local commits
        try:
            waiter = asyncio.create_task(notifier.wait(LicenceView.of(licensed.licence), notifier.head, 10))
            assert await asyncio.to_thread(notifier.listening.wait, 5)
            await asyncio.to_thread(_update, test_engine, licensed.articles[0].id)
            return await asyncio.wait_for(waiter, 5)
        finally:
            await notifier.stop()

    assert asyncio.run(scenario()) is True
