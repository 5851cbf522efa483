"""The public catalogue's filtered listings read an index, on SQLite and on PostgreSQL, so their cost
follows the page, not the catalogue (benchmarks/catalogue_listings.py measures it at 100k articles).

PostgreSQL plans come with `enable_seqscan`/`enable_sort` off (tests/query_plans.explain): on the
tests' few rows any planner prefers a sequential scan, and inserting enough rows for ANALYZE to say
otherwise would cost every run seconds; what is checked here is that an index can serve the query in
its order, which the query's shape decides."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from api.catalogue import service
from api.core.db import utcnow
from api.core.pagination import encode_cursor
from tests.query_plans import list_plans

SINCE = utcnow() - timedelta(days=7)
KEY = encode_cursor([SINCE, "art_x"])

# name: (list_articles keyword arguments, the index the listing reads on SQLite, on PostgreSQL)
LISTINGS = {
    "changes since": ({"updated_since": SINCE}, "ix_article_sync", "ix_article_sync"),
    "next page": ({"cursor": KEY}, "ix_article_sync", "ix_article_sync"),
    "section": ({"section": "news"}, "ix_article_section_sync", "ix_article_section_sync"),
    "section, next page": ({"section": "news", "cursor": KEY}, "ix_article_section_sync", "ix_article_section_sync"),
    "tag": ({"tag": "Gulf"}, "ix_article_tag_sync", "ix_article_tag_sync"),
    "tag, next page": ({"tag": "gulf", "cursor": KEY}, "ix_article_tag_sync", "ix_article_tag_sync"),
    "tag, changes since": ({"tag": "gulf", "updated_since": SINCE}, "ix_article_tag_sync", "ix_article_tag_sync"),
    "published from": ({"published_from": SINCE}, "ix_article_published", "ix_article_published"),
    "published before": ({"published_to": SINCE}, "ix_article_published", "ix_article_published"),
    "published range, next page": ({"published_from": SINCE - timedelta(days=7), "published_to": SINCE, "cursor": KEY},
                                   "ix_article_published", "ix_article_published"),
    "section published from": ({"section": "news", "published_from": SINCE},
                               "ix_article_section_published", "ix_article_section_published"),
    "tag published from": ({"tag": "gulf", "published_from": SINCE}, "ix_article_tag_published",
                           "ix_article_tag_published"),
}


def _scans_a_table(plan: str) -> bool:
    return bool(re.search(r"^\s*(SCAN (article|article_tag)\s*$)|Seq Scan", plan, re.MULTILINE))


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_filtered_listings_read_their_index_in_order(session, name: str) -> None:
    kwargs, sqlite_index, postgres_index = LISTINGS[name]
    postgres = session.get_bind().dialect.name == "postgresql"
    for plan in list_plans(session, service.list_articles, kwargs):
        assert (postgres_index if postgres else sqlite_index) in plan, plan
        assert not _scans_a_table(plan), plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan  # the index gives the order: no sort
    session.rollback()


@pytest.mark.parametrize("kwargs", [{}, {"cursor": encode_cursor([1, SINCE, "art_x"])}, {"section": "news"},
                                    {"tag": "gulf"}, {"language": "en"}, {"published_from": SINCE},
                                    {"updated_since": SINCE}])
def test_search_reads_the_full_text_index(session, kwargs) -> None:
    """Matches come from the search index, then rows by key: cost follows the matches, not the catalogue
    (they are sorted by rank, which no index holds). SQLite always starts from the FTS5 matches;
    PostgreSQL weighs the search index against a filter's own by its statistics, so with another
    filter it is only held to some index."""
    postgres = session.get_bind().dialect.name == "postgresql"
    for plan in list_plans(session, service.list_articles, {"q": "drought talks", **kwargs}):
        if postgres:
            assert ("ix_article_search" if set(kwargs) <= {"cursor"} else "Index") in plan, plan
        else:
            assert "SCAN article_search VIRTUAL TABLE" in plan, plan
            assert "SEARCH article USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert not _scans_a_table(plan), plan
    session.rollback()


def test_the_embargo_lift_job_reads_its_partial_index_and_no_listing_does(session) -> None:
    """The job's query seeks `ix_article_embargo_due` (embargoes not yet recorded, a handful) instead of
    walking the catalogue every ten seconds; the listings' embargo test never picks that index."""
    from api.catalogue import embargoes

    for plan in list_plans(session, embargoes.due, {"now": utcnow()}):
        assert "ix_article_embargo_due" in plan, plan
        assert not _scans_a_table(plan), plan
    session.rollback()
    for kwargs, _sqlite_index, _postgres_index in LISTINGS.values():
        for plan in list_plans(session, service.list_articles, kwargs):
            assert "ix_article_embargo_due" not in plan, plan
        session.rollback()
