"""The change cursor: every update and takedown a licence covers, once each, in commit order, even a
change that commits after a later-stamped one (which `updated_since` misses)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.core.db import utcnow
from tests.builders import TEST_ACTOR, make_article, make_licence
from tests.delivery.conftest import bearer, mint
from tests.delivery.receivers import drain_everything_due
import api.jobs  # noqa: F401  - registers the outbox handlers


def _changes(client, token: str, cursor: str, limit: int = 50) -> tuple[list[dict], str]:
    """Follow the change cursor to the end of what is there now, page by page."""
    seen: list[dict] = []
    while True:
        page = client.get("/v1/content/feed", headers=bearer(token), params={"change_cursor": cursor, "limit": limit})
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["items"]
        cursor = body["change_cursor"]
        assert page.headers["syndicate-change-cursor"] == cursor
        if not body["next_cursor"]:
            return seen, cursor


def test_following_the_cursor_sees_every_update_and_takedown_once_in_order(client, session, licensed):
    token = mint(client, licensed)["token"]
    first, second = licensed.articles
    start = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    catalogue.update_article(session, first.id, ArticleUpdate(headline="First, updated"), actor=TEST_ACTOR)
    session.commit()
    catalogue.update_article(session, second.id, ArticleUpdate(headline="Second, corrected", correction_note="Name"),
                             actor=TEST_ACTOR)
    session.commit()
    catalogue.update_article(session, first.id, ArticleUpdate(headline="First, again"), actor=TEST_ACTOR)
    catalogue.withdraw_article(session, second.id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    outside = make_article(session)  # not in the bundle: never listed
    session.commit()
    catalogue.update_article(session, outside.id, ArticleUpdate(headline="Elsewhere"), actor=TEST_ACTOR)
    session.commit()

    seen, cursor = _changes(client, token, start, limit=1)  # one a page: the pages join without gap or repeat
    assert [(i["id"], i["version"], i["change"]) for i in seen] == [
        (first.id, 2, "updated"), (second.id, 2, "corrected"), (first.id, 3, "updated"), (second.id, 3, "withdrawn")]
    assert [int(i["change_cursor"]) for i in seen] == sorted(int(i["change_cursor"]) for i in seen)
    assert seen[-1]["status"] == "withdrawn"
    again, same = _changes(client, token, cursor)
    assert again == [] and same == cursor  # nothing twice

    everything, _ = _changes(client, token, "0")  # from the start: the creations too
    assert [(i["id"], i["change"]) for i in everything[:2]] == [(first.id, "created"), (second.id, "created")]


def test_a_change_committed_late_with_an_older_timestamp_is_not_missed(client, session, licensed, monkeypatch):
    """The earlier-stamped change commits after a later-stamped one was already read: `updated_since`
    from what the client saw misses it; the change cursor does not."""
    token = mint(client, licensed)["token"]
    late, early = licensed.articles
    before = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    # The later transaction stamps its change first (as one that began a while ago, on a host whose clock
    # runs behind, would): on SQLite writers are serialised, so the late one is played by an older clock.
    stamped_at = utcnow() - timedelta(minutes=5)
    catalogue.update_article(session, early.id, ArticleUpdate(headline="Committed first"), actor=TEST_ACTOR)
    session.commit()
    seen, cursor = _changes(client, token, before)
    assert [i["id"] for i in seen] == [early.id]
    newest_seen = seen[-1]["updated_at"]

    monkeypatch.setattr("api.catalogue.service.utcnow", lambda: stamped_at)
    catalogue.update_article(session, late.id, ArticleUpdate(headline="Committed late"), actor=TEST_ACTOR)
    session.commit()
    monkeypatch.undo()

    by_time = client.get("/v1/content/feed", headers=bearer(token), params={"updated_since": newest_seen}).json()
    assert by_time["items"] == []  # the gap `updated_since` has (hence its documented overlap)
    following, _ = _changes(client, token, cursor)
    assert [(i["id"], i["headline"], i["version"]) for i in following] == [(late.id, "Committed late", 2)]


@pytest.mark.postgres_only
def test_two_concurrent_transactions_the_earlier_committing_later(client, session, licensed, test_engine):
    """PostgreSQL, two connections: A changes an article first (its `updated_at` is older) but commits
    after B. A client that read the feed between the commits still gets A's change, and after B's."""
    token = mint(client, licensed)["token"]
    a_article, b_article = licensed.articles
    start = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    with Session(test_engine) as a, Session(test_engine) as b:
        catalogue.update_article(a, a_article.id, ArticleUpdate(headline="A, stamped first"), actor=TEST_ACTOR)
        a.flush()
        catalogue.update_article(b, b_article.id, ArticleUpdate(headline="B, stamped second"), actor=TEST_ACTOR)
        b.commit()
        seen, cursor = _changes(client, token, start)
        assert [i["id"] for i in seen] == [b_article.id]
        a.commit()
    after, _ = _changes(client, token, cursor)
    assert [(i["id"], i["headline"]) for i in after] == [(a_article.id, "A, stamped first")]
    assert after[0]["updated_at"] < seen[0]["updated_at"]  # older stamp, later commit: seen all the same


def test_a_snapshot_sync_hands_over_to_the_cursor_of_its_first_page(client, session, licensed):
    token = mint(client, licensed)["token"]
    first_page = client.get("/v1/content/feed", headers=bearer(token), params={"limit": 1})
    start = first_page.json()["change_cursor"]
    catalogue.update_article(session, licensed.articles[0].id, ArticleUpdate(headline="Meanwhile"), actor=TEST_ACTOR)
    session.commit()
    second_page = client.get("/v1/content/feed", headers=bearer(token),
                             params={"limit": 1, "cursor": first_page.json()["next_cursor"]}).json()
    assert second_page["change_cursor"] == start  # not the head now: a late commit could fall between
    seen, _ = _changes(client, token, start)
    assert [i["headline"] for i in seen] == ["Meanwhile"]


def test_bad_change_cursors_are_refused(client, licensed):
    token = mint(client, licensed)["token"]
    for params in ({"change_cursor": "abc"}, {"change_cursor": "1", "updated_since": "2026-01-01T00:00:00Z"},
                   {"wait": 31}, {"wait": 0}):
        answer = client.get("/v1/content/feed", headers=bearer(token), params=params)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", params


def test_article_webhooks_carry_the_change_cursor(client, session, engine, licensed, receiver):
    hook = receiver([])
    client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url})
    token = mint(client, licensed)["token"]
    start = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    drain_everything_due(engine)
    [(_headers, body)] = hook.received
    data = json.loads(body)["data"]
    seen, _ = _changes(client, token, start)
    assert data["change_cursor"] == seen[0]["change_cursor"] and seen[0]["change"] == "withdrawn"
    assert _changes(client, token, data["change_cursor"])[0] == []  # caught up from the webhook


@pytest.mark.postgres_only
def test_a_stamped_change_holds_back_later_stamps_until_it_commits(session, licensed, test_engine):
    """The race a sequence alone loses: A takes its number at commit, then its commit stalls; B, committing
    meanwhile, must not take (and publish) a higher number before A's is visible. B waits on the stamp lock."""
    import threading

    from sqlalchemy import text

    from api.catalogue import changes
    from api.catalogue.models import ArticleChange

    a_article, b_article = licensed.articles
    a, b = Session(test_engine), Session(test_engine)
    catalogue.update_article(a, a_article.id, ArticleUpdate(headline="A"), actor=TEST_ACTOR)
    changes._stamp(a)  # what A's commit does first: lock, number, notify; the COMMIT itself has not happened
    catalogue.update_article(b, b_article.id, ArticleUpdate(headline="B"), actor=TEST_ACTOR)
    b_done = threading.Event()
    threading.Thread(target=lambda: (b.commit(), b_done.set()), daemon=True).start()
    with test_engine.connect() as watcher:  # until B is queued behind A's lock (no sleeping and hoping)
        for _ in range(10_000):
            if watcher.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar():
                break
            watcher.rollback()
        else:
            pytest.fail("B never waited for A's stamp lock")
    assert not b_done.is_set()
    a.commit()
    assert b_done.wait(10)
    with Session(test_engine) as reader:
        order = [c.article_id for c in reader.exec(select(ArticleChange).order_by(ArticleChange.seq)).all()][-2:]
    assert order == [a_article.id, b_article.id]
    a.close(), b.close()
