"""Catalogue service on a real database: versions, re-imports, withdrawal, listing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.catalogue import service
from api.catalogue.errors import ArticleNotFound, ArticleWithdrawn, CanonicalUrlTaken, EmptyArticleBody
from api.catalogue.importers import parse_document
from api.catalogue.models import Article, ArticleRevision, ArticleStatus, ArticleTag, Asset
from api.catalogue.schemas import ArticleCreate, ArticleUpdate
from api.core.db import session_scope, utcnow
from api.outbox.models import OutboxMessage
from tests.builders import TEST_ACTOR, make_article
from tests.catalogue.pages import SAMPLE_TEXT


def _data(n: int = 1, **overrides) -> ArticleCreate:
    values = dict(
        external_id=f"cms-{n}", headline=f"Headline {n}", standfirst=f"Standfirst {n}",
        body_html=f"<p>Paragraph one of {n}.</p><p>Paragraph two.</p>",
        canonical_url=f"https://www.middleeasteye.net/news/{n}", section="news", tags=["Syria", "Russia"],
        assets=[{"url": "https://img.example/a.jpg", "caption": "Wire", "credit": "Reuters"},
                {"url": "https://img.example/b.jpg", "caption": "Ours", "credit": "MEE/Staff"}],
    )
    values.update(overrides)
    return ArticleCreate.model_validate(values)


def _messages(session: Session, article_id: str) -> list[OutboxMessage]:
    return [m for m in session.exec(select(OutboxMessage).where(OutboxMessage.topic == "article.changed")).all()
            if m.payload["article_id"] == article_id]


def test_create_stores_article_tags_assets_revision_and_audit(session: Session) -> None:
    article, created, changed = service.upsert_article(session, _data(), actor=TEST_ACTOR)
    assert (created, changed, article.version) == (True, True, 1)
    assert article.slug == "headline-1" and article.word_count == 6 and "Paragraph two." in article.body_text
    assert [(a.credit, a.relicensable) for a in service.get_assets(session, article.id)] == [("Reuters", False), ("MEE/Staff", True)]
    assert sorted(session.exec(select(ArticleTag.tag).where(ArticleTag.article_id == article.id)).all()) == ["russia", "syria"]
    assert session.exec(select(ArticleRevision.change).where(ArticleRevision.article_id == article.id)).all() == ["created"]
    assert session.exec(select(AuditEntry.action).where(AuditEntry.object_id == article.id)).all() == ["article.created"]


def test_body_is_sanitised(session: Session) -> None:
    article, *_ = service.upsert_article(
        session, _data(body_html='<p onclick="x()">Safe <script>alert(1)</script>text.</p>'), actor=TEST_ACTOR)
    assert article.body_html == "<p>Safe text.</p>"


def test_identical_reimport_changes_nothing(session: Session) -> None:
    article, *_ = service.upsert_article(session, _data(), actor=TEST_ACTOR)
    again, created, changed = service.upsert_article(session, _data(), actor=TEST_ACTOR)
    assert again.id == article.id and (created, changed, again.version) == (False, False, 1)
    assert _messages(session, article.id) == []
    assert len(session.exec(select(Article)).all()) == 1


def test_changed_reimport_is_a_new_version_and_then_stable(session: Session) -> None:
    article, *_ = service.upsert_article(session, _data(), actor=TEST_ACTOR)
    edited = _data(headline="Headline 1, corrected", tags=["Syria"])
    updated, created, changed = service.upsert_article(session, edited, actor=TEST_ACTOR)
    assert updated.id == article.id and (created, changed, updated.version) == (False, True, 2)
    assert updated.headline == "Headline 1, corrected"
    assert session.exec(select(ArticleTag.tag).where(ArticleTag.article_id == article.id)).all() == ["syria"]
    assert [m.payload["version"] for m in _messages(session, article.id)] == [2]
    # the same edit once more (wire credits resolved from the stored assets) is not another version
    again, _, changed_again = service.upsert_article(session, edited, actor=TEST_ACTOR)
    assert (again.version, changed_again) == (2, False)


def test_sample_page_reimport_matches_on_canonical_url(session: Session) -> None:
    [data] = parse_document(SAMPLE_TEXT.read_bytes(), format="text", canonical_template="https://www.middleeasteye.net/news/{slug}")
    first, created, _ = service.upsert_article(session, data, actor=TEST_ACTOR)
    second, created_again, changed = service.upsert_article(session, data, actor=TEST_ACTOR)
    assert created and not created_again and not changed and second.id == first.id
    [asset] = session.exec(select(Asset).where(Asset.article_id == first.id)).all()
    assert asset.credit == "Reuters" and asset.relicensable is False


def test_reimport_by_external_id_follows_a_moved_url(session: Session) -> None:
    article, *_ = service.upsert_article(session, _data(), actor=TEST_ACTOR)
    moved, created, changed = service.upsert_article(
        session, _data(canonical_url="https://www.middleeasteye.net/news/renamed"), actor=TEST_ACTOR)
    assert moved.id == article.id and not created and changed
    assert moved.canonical_url == "https://www.middleeasteye.net/news/renamed" and moved.version == 2


def test_another_articles_url_is_a_conflict(session: Session) -> None:
    service.upsert_article(session, _data(1), actor=TEST_ACTOR)
    service.upsert_article(session, _data(2), actor=TEST_ACTOR)
    with pytest.raises(CanonicalUrlTaken):
        service.upsert_article(session, _data(2, canonical_url="https://www.middleeasteye.net/news/1"), actor=TEST_ACTOR)
    with pytest.raises(CanonicalUrlTaken):
        service.upsert_article(session, _data(3, canonical_url="https://www.middleeasteye.net/news/1"), actor=TEST_ACTOR)


def test_update_bumps_version_only_on_change(session: Session) -> None:
    article = make_article(session)
    same = service.update_article(session, article.id, ArticleUpdate(headline=article.headline), actor=TEST_ACTOR)
    assert same.version == 1
    changed = service.update_article(session, article.id, ArticleUpdate(standfirst="New standfirst"), actor=TEST_ACTOR)
    assert changed.version == 2 and changed.standfirst == "New standfirst"
    corrected = service.update_article(session, article.id, ArticleUpdate(correction_note="Date fixed."), actor=TEST_ACTOR)
    assert corrected.version == 3 and corrected.correction_note == "Date fixed."
    changes = session.exec(select(ArticleRevision.change).where(ArticleRevision.article_id == article.id)
                           .order_by(ArticleRevision.version)).all()
    assert changes == ["created", "updated", "corrected"]
    with pytest.raises(EmptyArticleBody):
        service.update_article(session, article.id, ArticleUpdate(body_html="<script>x</script>"), actor=TEST_ACTOR)


def test_withdrawn_article_cannot_change_or_come_back(session: Session) -> None:
    article, *_ = service.upsert_article(session, _data(), actor=TEST_ACTOR)
    withdrawn = service.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    assert withdrawn.status == ArticleStatus.withdrawn and withdrawn.version == 2
    assert service.withdraw_article(session, article.id, reason="Again", actor=TEST_ACTOR).version == 2
    with pytest.raises(ArticleWithdrawn):
        service.upsert_article(session, _data(headline="Back"), actor=TEST_ACTOR)
    with pytest.raises(ArticleWithdrawn):
        service.update_article(session, article.id, ArticleUpdate(headline="Back"), actor=TEST_ACTOR)
    assert [m.payload["change"] for m in _messages(session, article.id)] == ["withdrawn"]
    with pytest.raises(ArticleNotFound):
        service.get_public_article(session, article.id)


def test_batch_import_is_all_or_nothing(engine) -> None:
    bad = _data(2, body_html="<script>only a script</script>")
    with pytest.raises(EmptyArticleBody, match="article 2"):
        with session_scope(engine) as s:
            service.import_articles(s, [_data(1), bad], actor=TEST_ACTOR)
    with Session(engine) as s:
        assert s.exec(select(Article)).all() == [] and s.exec(select(AuditEntry)).all() == []


# --- listing ---------------------------------------------------------------------------------


def _ids(rows) -> set[str]:
    return {r.id for r in rows}


def test_listing_filters(session: Session) -> None:
    news = make_article(session, headline="Putin visits Damascus", section="news", tags=["Syria"], published_days_ago=10)
    opinion = make_article(session, headline="On Gulf diplomacy", section="opinion", tags=["Gulf"], language="fr",
                           published_days_ago=2)
    hidden = make_article(session, licensable=False, section="news")
    gone = make_article(session, section="news")
    service.withdraw_article(session, gone.id, reason="Legal", actor=TEST_ACTOR)
    list_ = lambda **kw: _ids(service.list_articles(session, **kw)[0])  # noqa: E731
    assert list_() == {news.id, opinion.id}  # not the unlicensable one, not the withdrawn one
    assert hidden.id in list_(licensable_only=False)
    assert list_(section="news") == {news.id}
    assert list_(tag="SYRIA") == {news.id}
    assert list_(language="fr") == {opinion.id}
    assert list_(published_from=utcnow() - timedelta(days=5)) == {opinion.id}
    assert list_(published_to=utcnow() - timedelta(days=5)) == {news.id}
    assert list_(q="damascus") == {news.id}
    assert list_(q="Standfirst") == {news.id, opinion.id}  # the standfirst is searched too


def test_embargoed_articles_are_hidden_until_the_embargo_lifts(session: Session) -> None:
    future, *_ = service.upsert_article(session, _data(1, embargo_until=utcnow() + timedelta(days=1)), actor=TEST_ACTOR)
    past, *_ = service.upsert_article(session, _data(2, embargo_until=utcnow() - timedelta(hours=1)), actor=TEST_ACTOR)
    assert future.status == ArticleStatus.embargoed
    assert _ids(service.list_articles(session)[0]) == {past.id}
    with pytest.raises(ArticleNotFound):
        service.get_public_article(session, future.id)
    lifted = service.update_article(session, future.id, ArticleUpdate(embargo_until=None), actor=TEST_ACTOR)
    assert lifted.status == ArticleStatus.published
    assert service.get_public_article(session, future.id).id == future.id


def test_pagination_walks_every_article_once_in_update_order(session: Session) -> None:
    made = [make_article(session) for _ in range(5)]
    service.update_article(session, made[0].id, ArticleUpdate(standfirst="touched"), actor=TEST_ACTOR)
    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = service.list_articles(session, limit=2, cursor=cursor)
        seen += [r.id for r in rows]
        pages += 1
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5 and set(seen) == {a.id for a in made}
    assert seen[-1] == made[0].id  # the most recently updated comes last


def test_updated_since_returns_only_later_changes(session: Session) -> None:
    old = make_article(session)
    new = make_article(session)
    mark = new.updated_at
    assert _ids(service.list_articles(session, updated_since=mark)[0]) == set()
    service.update_article(session, old.id, ArticleUpdate(standfirst="changed"), actor=TEST_ACTOR)
    assert _ids(service.list_articles(session, updated_since=mark)[0]) == {old.id}


def test_pagination_breaks_ties_on_id(session: Session) -> None:
    made = [make_article(session) for _ in range(5)]
    same_time = utcnow()
    for article in made:
        article.updated_at = same_time
        session.add(article)
    session.flush()
    seen, cursor = [], None
    while True:
        rows, cursor = service.list_articles(session, limit=2, cursor=cursor)
        seen += [r.id for r in rows]
        if cursor is None:
            break
    assert seen == sorted(a.id for a in made)


def _in_thread(engine, work) -> tuple[threading.Thread, list]:
    """Run work(session) in another thread with its own session, committing; collect its result or error."""
    outcome: list = []

    def run() -> None:
        try:
            with session_scope(engine) as own:
                outcome.append(work(own))
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    if engine.dialect.name == "postgresql":
        _wait_for_a_blocked_transaction(engine)
    return thread, outcome


def _wait_for_a_blocked_transaction(engine) -> None:
    """Wait until the other thread is queued behind our lock, so the race really happens.

    (On SQLite the other thread's BEGIN IMMEDIATE waits for our commit whatever it does.)
    """
    from sqlalchemy import text

    with engine.connect() as probe:
        for _ in range(2000):
            if probe.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                return
            probe.rollback()
            threading.Event().wait(0.005)
    raise AssertionError("the second transaction never waited for the first")


def test_concurrent_imports_of_one_article_make_one_article(engine) -> None:
    with Session(engine, expire_on_commit=False) as first:
        article, created, _ = service.upsert_article(first, _data(), actor=TEST_ACTOR)  # inserted, not committed
        thread, outcome = _in_thread(engine, lambda s: service.upsert_article(s, _data(), actor=TEST_ACTOR)[1:])
        first.commit()
    thread.join()
    assert created and outcome == [(False, False)]  # the second import waited, then found the first's row
    with Session(engine) as s:
        assert [a.id for a in s.exec(select(Article)).all()] == [article.id]


def test_concurrent_edits_make_consecutive_versions(engine) -> None:
    with session_scope(engine) as setup:
        article = make_article(setup)
    with Session(engine, expire_on_commit=False) as first:
        service.update_article(first, article.id, ArticleUpdate(standfirst="first edit"), actor=TEST_ACTOR)
        thread, outcome = _in_thread(engine, lambda s: service.update_article(
            s, article.id, ArticleUpdate(headline="second edit"), actor=TEST_ACTOR).version)
        first.commit()
    thread.join()
    assert outcome == [3]
    with Session(engine) as s:
        final = s.get(Article, article.id)
        assert (final.version, final.standfirst, final.headline) == (3, "first edit", "second edit")
