"""Catalogue full-text search on the real database (PostgreSQL's tsvector index or SQLite's FTS5 table)
and the listings that page by other keys: tag and publication date."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from api.catalogue import service
from api.catalogue.models import ArticleTag
from api.catalogue.schemas import ArticleUpdate
from api.core.db import utcnow
from tests.builders import TEST_ACTOR, make_article


def _search(session: Session, q: str, **kwargs) -> list[str]:
    return [a.id for a in service.list_articles(session, q=q, **kwargs)[0]]


def _walk(session: Session, **kwargs) -> list[str]:
    """Every page of a listing, one article a page."""
    seen, cursor = [], None
    while True:
        rows, cursor = service.list_articles(session, limit=1, cursor=cursor, **kwargs)
        seen += [r.id for r in rows]
        if cursor is None:
            return seen


def test_every_word_must_appear_in_any_order_and_either_field(session: Session) -> None:
    headline = make_article(session, headline="Talks stall as the drought deepens")
    split = make_article(session, headline="Nile talks resume", body_html="<p>Body.</p>")
    service.update_article(session, split.id, ArticleUpdate(standfirst="A drought in Ethiopia"), actor=TEST_ACTOR)
    make_article(session, headline="Drought in the Sahel")  # one word only
    make_article(session, headline="Peace talks in Doha")
    assert set(_search(session, "drought talks")) == {headline.id, split.id}
    assert set(_search(session, "DROUGHT   Talks")) == {headline.id, split.id}  # any case, any spacing
    assert _search(session, "talk drought") == []  # whole words: no stemming


def test_headline_matches_rank_first_then_newest_change(session: Session) -> None:
    body_only = make_article(session, headline="Nile water dispute")
    service.update_article(session, body_only.id, ArticleUpdate(standfirst="Drought talks in Cairo"), actor=TEST_ACTOR)
    older = make_article(session, headline="Drought talks open in Cairo")
    newer = make_article(session, headline="Drought talks close without a deal")
    # The standfirst match is the newest change, yet both headline matches come before it.
    assert _search(session, "drought talks") == [newer.id, older.id, body_only.id]
    assert _walk(session, q="drought talks") == [newer.id, older.id, body_only.id]  # keyset pages agree


def test_search_pages_stay_correct_when_the_catalogue_changes_between_pages(session: Session) -> None:
    made = [make_article(session, headline=f"Drought talks, day {n}") for n in range(4)]
    first, cursor = service.list_articles(session, q="drought talks", limit=2)
    make_article(session, headline="Drought talks, a late arrival")  # ranks first: before the cursor
    make_article(session, headline="Unrelated")
    rest, end = service.list_articles(session, q="drought talks", limit=10, cursor=cursor)
    assert [a.id for a in first + rest] == [a.id for a in reversed(made)] and end is None


def test_search_combines_with_the_other_filters(session: Session) -> None:
    news = make_article(session, headline="Drought talks in Khartoum", section="news", tags=["Sudan"])
    make_article(session, headline="Drought talks in Addis", section="opinion", tags=["Ethiopia"])
    gone = make_article(session, headline="Drought talks withdrawn", section="news")
    service.withdraw_article(session, gone.id, reason="Legal", actor=TEST_ACTOR)
    assert _search(session, "drought talks", section="news") == [news.id]
    assert _search(session, "drought talks", tag="sudan") == [news.id]


def test_query_syntax_and_wildcards_are_plain_text(session: Session) -> None:
    percent = make_article(session, headline="Prices up 100% in a year")
    make_article(session, headline="Prices up 1000 dollars in a year")
    make_article(session, headline="Prices fall")
    assert _search(session, "100%") == [percent.id]
    assert _search(session, "pri*") == []  # no prefix search
    assert _search(session, "prices NOT dollars") == []  # NOT is a word here, and no article has it
    assert set(_search(session, 'prices "year')) == {percent.id, _search(session, "1000")[0]}
    assert _search(session, "%%") == []  # nothing to search for: nothing found
    assert _search(session, "100 % prices") == [percent.id]  # punctuation alone is no word to require


def test_the_index_follows_edits_and_withdrawals(session: Session) -> None:
    article = make_article(session, headline="Drought talks begin")
    service.update_article(session, article.id, ArticleUpdate(headline="Ceasefire talks begin"), actor=TEST_ACTOR)
    assert _search(session, "drought talks") == []
    assert _search(session, "ceasefire talks") == [article.id]
    service.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    assert _search(session, "ceasefire talks") == []


# --- tag and publication-date listings --------------------------------------------------------------


def test_tag_rows_carry_the_articles_keys_through_edits(session: Session) -> None:
    first, second, third = (make_article(session, tags=["Gulf", "Oil"]) for _ in range(3))
    make_article(session, tags=["Sport"])
    edited = service.update_article(session, first.id, ArticleUpdate(standfirst="changed"), actor=TEST_ACTOR)
    rows = session.exec(select(ArticleTag).where(ArticleTag.article_id == first.id)).all()
    assert {(r.updated_at, r.published_at) for r in rows} == {(edited.updated_at, edited.published_at)}
    assert _walk(session, tag="GULF") == [second.id, third.id, first.id]  # by change, the edit last
    assert _walk(session, tag="gulf", updated_since=third.updated_at) == [first.id]
    retagged = service.update_article(session, second.id, ArticleUpdate(tags=["Sport"]), actor=TEST_ACTOR)
    assert _walk(session, tag="gulf") == [third.id, first.id]
    assert _walk(session, tag="sport")[-1] == retagged.id


def test_publication_date_filters_list_by_publication_date(session: Session) -> None:
    old = make_article(session, published_days_ago=30, tags=["Gulf"])
    recent = make_article(session, published_days_ago=3, tags=["Gulf"])
    newest = make_article(session, published_days_ago=1, tags=["Gulf"], section="opinion")
    service.update_article(session, recent.id, ArticleUpdate(standfirst="changed"), actor=TEST_ACTOR)  # last change
    week_ago = utcnow() - timedelta(days=7)
    assert _walk(session, published_from=week_ago) == [recent.id, newest.id]
    assert _walk(session, published_to=utcnow() - timedelta(days=2)) == [old.id, recent.id]
    assert _walk(session, published_from=week_ago, tag="gulf") == [recent.id, newest.id]
    assert _walk(session, published_from=week_ago, section="opinion") == [newest.id]
    # With updated_since the listing stays a sync: by change.
    assert _walk(session, published_from=week_ago, updated_since=old.updated_at) == [newest.id, recent.id]


def test_public_search_over_http_pages_through_the_ranked_matches(client, session: Session) -> None:
    standfirst_only = make_article(session, headline="Nile dispute")
    service.update_article(session, standfirst_only.id, ArticleUpdate(standfirst="Talks on the drought"),
                           actor=TEST_ACTOR)
    in_headline = make_article(session, headline="Drought talks open")
    make_article(session, headline="Drought alone")
    session.commit()
    first = client.get("/v1/articles", params={"q": "drought talks", "limit": 1})
    assert first.status_code == 200, first.text
    second = client.get("/v1/articles", params={"q": "drought talks", "limit": 1, "cursor": first.json()["next_cursor"]})
    assert [p.json()["items"][0]["id"] for p in (first, second)] == [in_headline.id, standfirst_only.id]
    assert "next_cursor" not in second.json() or second.json()["next_cursor"] is None
    listing_cursor = client.get("/v1/articles", params={"limit": 1}).json()["next_cursor"]
    wrong = client.get("/v1/articles", params={"q": "drought talks", "cursor": listing_cursor})
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("/bad-cursor")  # another listing's
