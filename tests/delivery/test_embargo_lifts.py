"""An embargo that lifts by the clock is a change: the job records it once (a new version, kind
`embargo_lifted`), the change cursor and long-poll see it, covering licensees get a webhook."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from api.catalogue import embargoes, service as catalogue
from api.catalogue.jobs import record_embargo_lifts
from api.catalogue.models import Article, ArticleChange
from api.catalogue.schemas import ArticleUpdate
from api.core.db import utcnow
from tests.builders import TEST_ACTOR
from tests.delivery.conftest import bearer, mint
from tests.delivery.receivers import drain_everything_due
import api.jobs  # noqa: F401  - registers the outbox handlers


def _embargo(session, article_id: str, seconds: float):
    """Put the article under an embargo ending `seconds` from now; the time it ends."""
    until = utcnow() + timedelta(seconds=seconds)
    catalogue.update_article(session, article_id, ArticleUpdate(embargo_until=until), actor=TEST_ACTOR)
    session.commit()
    return until


def _advance_past(monkeypatch, until) -> None:
    """The clock the job and the feed read, moved a second past `until` (no sleeping)."""
    later = until + timedelta(seconds=1)
    monkeypatch.setattr(embargoes, "utcnow", lambda: later)
    monkeypatch.setattr("api.delivery.change_feed.utcnow", lambda: later)


def _changes_after(client, token: str, cursor: str) -> tuple[list[tuple[str, int, str]], str]:
    body = client.get("/v1/content/feed", headers=bearer(token), params={"change_cursor": cursor}).json()
    return [(i["id"], i["version"], i["change"]) for i in body["items"]], body["change_cursor"]


def _lifts(session, article_id: str) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(ArticleChange).where(
        col(ArticleChange.article_id) == article_id, col(ArticleChange.change) == "embargo_lifted")).one()


def test_the_worker_runs_the_job() -> None:
    from api.worker import registered_jobs

    assert registered_jobs()["embargoes.record_lifts"].every_seconds <= 10


def test_a_lift_is_recorded_once_and_the_cursor_shows_it(client, session, test_engine, licensed, monkeypatch):
    article = licensed.articles[1]
    until = _embargo(session, article.id, 1)  # version 2, under embargo: not listed
    token = mint(client, licensed)["token"]
    cursor = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]

    assert record_embargo_lifts(test_engine) == 0  # not yet
    assert _changes_after(client, token, cursor)[0] == []

    _advance_past(monkeypatch, until)
    assert _changes_after(client, token, cursor)[0] == []  # visible now, but nothing says so: the gap closed here
    assert record_embargo_lifts(test_engine) == 1
    seen, after = _changes_after(client, token, cursor)
    assert seen == [(article.id, 3, "embargo_lifted")]

    assert record_embargo_lifts(test_engine) == 0  # a re-run records nothing
    assert _changes_after(client, token, after) == ([], after)
    assert _lifts(session, article.id) == 1
    assert session.get(Article, article.id).status == "published"

    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.05)  # the content path reads the real clock
    versions = client.get(f"/v1/content/articles/{article.id}/versions", headers=bearer(token)).json()["items"]
    assert [(v["version"], v["kind"]) for v in versions] == [(1, "original"), (2, "update"), (3, "release")]
    assert versions[2]["current"] and versions[2]["change_cursor"] == after


def test_covering_licensees_get_an_embargo_lifted_webhook(client, session, engine, test_engine, licensed, receiver,
                                                          monkeypatch):
    article = licensed.articles[0]
    until = _embargo(session, article.id, 1)
    drain_everything_due(engine)  # the embargo's own update went out before the endpoint existed
    hook = receiver([])
    client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url})
    _advance_past(monkeypatch, until)
    record_embargo_lifts(test_engine)
    drain_everything_due(engine)
    events = [json.loads(body) for _headers, body in hook.received]
    assert [(e["type"], e["data"]["version"], e["data"]["change"]) for e in events] == [
        ("article.embargo_lifted", 3, "embargo_lifted")]
    assert events[0]["data"]["occurred_at"].startswith(until.isoformat()[:19])
    assert events[0]["data"]["change_cursor"]


def test_a_new_embargo_is_recorded_when_it_lifts_and_a_change_after_the_end_is_not_repeated(
        client, session, test_engine, licensed, monkeypatch):
    article = licensed.articles[1]
    until = _embargo(session, article.id, 1)
    _advance_past(monkeypatch, until)
    assert record_embargo_lifts(test_engine) == 1
    monkeypatch.undo()

    again = _embargo(session, article.id, 1)  # re-embargoed: its end is a lift of its own
    _advance_past(monkeypatch, again)
    assert record_embargo_lifts(test_engine) == 1 and _lifts(session, article.id) == 2
    monkeypatch.undo()

    # An edit committed after the embargo ended has told everyone already: the job only marks it.
    later = _embargo(session, article.id, 0.05)
    time.sleep(0.1)
    catalogue.update_article(session, article.id, ArticleUpdate(headline="Edited after the embargo"), actor=TEST_ACTOR)
    session.commit()
    assert record_embargo_lifts(test_engine) == 0 and _lifts(session, article.id) == 2
    assert embargoes.due(session, later + timedelta(seconds=1)) == []


def test_a_long_poll_is_woken_by_the_lift(client, session, test_engine, licensed, monkeypatch):
    article = licensed.articles[1]
    until = _embargo(session, article.id, 1)
    token = mint(client, licensed)["token"]
    cursor = client.get("/v1/content/feed", headers=bearer(token)).json()["change_cursor"]
    _advance_past(monkeypatch, until)

    def lift_later() -> None:
        time.sleep(0.5)
        record_embargo_lifts(test_engine)

    worker = threading.Thread(target=lift_later, daemon=True)
    worker.start()
    started = time.monotonic()
    answer = client.get("/v1/content/feed", headers=bearer(token), params={"change_cursor": cursor, "wait": 20})
    waited = time.monotonic() - started
    worker.join()
    assert answer.status_code == 200, answer.text
    assert [(i["id"], i["change"]) for i in answer.json()["items"]] == [(article.id, "embargo_lifted")]
    assert waited < 5, waited  # woken by the commit, not the time-out


@pytest.mark.postgres_only
def test_two_workers_at_once_record_a_lift_once(session, test_engine, licensed, monkeypatch):
    """PostgreSQL, two connections: A records the lift and holds its transaction open; B, asked for the
    same article, waits on the row lock and then finds it recorded."""
    article = licensed.articles[1]
    until = _embargo(session, article.id, 1)
    now = until + timedelta(seconds=1)
    results: dict[str, bool] = {}
    with Session(test_engine) as a, Session(test_engine) as b:
        assert embargoes.due(a, now) == [article.id]
        results["a"] = embargoes.record_lift(a, article.id, now)

        def second() -> None:
            results["b"] = embargoes.record_lift(b, article.id, now)
            b.commit()

        other = threading.Thread(target=second, daemon=True)
        other.start()
        time.sleep(0.3)
        assert "b" not in results  # waiting for A's row lock
        a.commit()
        other.join(10)
    assert results == {"a": True, "b": False}
    assert _lifts(session, article.id) == 1
