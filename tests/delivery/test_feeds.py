"""Feeds: paging links that keep the format, all-or-nothing quota per page, tombstones for takedowns,
and feed queries that page by index (no sort, no scan), whatever the licence's scope."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from sqlalchemy import event

from api.catalogue import service as catalogue
from api.delivery import service as delivery
from api.delivery.snapshots import LicenceView
from tests.builders import TEST_ACTOR, make_api_key, make_article, make_licence, make_partner
from tests.delivery.conftest import bearer, mint
from tests.query_plans import explain

ATOM = "{http://www.w3.org/2005/Atom}"
TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}"


def _next(response) -> str | None:
    found = re.search(r"<([^>]+)>; rel=\"next\"", response.headers.get("link", ""))
    return found.group(1).removeprefix("https://syndicate.test") if found else None


def test_the_next_link_keeps_format_limit_and_sync_point(client, session, licensed):
    extra = make_article(session)
    licence = make_licence(session, partner=licensed.partner, scope="catalogue")
    session.commit()
    token = mint(client, licensed, licence.id)["token"]
    seen, url, pages = [], "/v1/content/feed?format=atom&limit=2&updated_since=2000-01-01T00:00:00%2B00:00", 0
    while url:
        page = client.get(url, headers=bearer(token))
        assert page.status_code == 200 and page.headers["content-type"] == "application/atom+xml", page.text
        seen += [e.find(f"{ATOM}id").text for e in ElementTree.fromstring(page.content).findall(f"{ATOM}entry")]
        url, pages = _next(page), pages + 1
        assert url is None or ("format=atom" in url and "limit=2" in url and "updated_since=" in url)
    assert pages == 2 and sorted(seen) == sorted(a.canonical_url for a in [*licensed.articles, extra])


def test_a_feed_page_is_metered_whole_or_refused_whole(app, client, session):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    articles = [make_article(session) for _ in range(3)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle", monthly_quota=4)
    session.commit()
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
    first = client.get("/v1/content/feed", headers=bearer(token), params={"format": "rss", "limit": 2})
    assert first.status_code == 200  # 2 of 4 used
    whole = client.get("/v1/content/feed", headers=bearer(token), params={"format": "rss", "limit": 3})
    assert whole.status_code == 429 and whole.json()["type"] == "/problems/quota-exceeded"
    assert whole.headers["ratelimit-remaining"] == "2"  # nothing of the refused page was counted
    for article in articles[:2]:
        assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).status_code == 200
    assert client.get(f"/v1/content/articles/{articles[2].id}", headers=bearer(token)).status_code == 429
    delivered = client.get("/v1/content/feed", headers=bearer(token), params={"format": "json"})
    assert delivered.status_code == 200  # the JSON listing carries no bodies: no quota


def test_takedowns_show_in_every_feed_format(client, session, licensed):
    token = mint(client, licensed)["token"]
    gone, kept = licensed.articles
    catalogue.withdraw_article(session, gone.id, reason="Legal complaint", actor=TEST_ACTOR)
    session.commit()

    atom = ElementTree.fromstring(client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom"}).content)
    [tombstone] = atom.findall(f"{TOMBSTONE}deleted-entry")
    assert tombstone.get("ref") == gone.canonical_url and tombstone.get("when")
    assert "Legal complaint" in tombstone.find(f"{TOMBSTONE}comment").text
    assert [e.find(f"{ATOM}id").text for e in atom.findall(f"{ATOM}entry")] == [kept.canonical_url]

    rss = ElementTree.fromstring(client.get("/v1/content/feed", headers=bearer(token), params={"format": "rss"}).content)
    items = {i.find("guid").text: i for i in rss.findall("./channel/item")}
    withdrawn = items[gone.canonical_url]
    assert withdrawn.find("title").text == f"Withdrawn: {gone.headline}" and withdrawn.find("category").text == "withdrawn"
    assert "Legal complaint" in withdrawn.find("description").text and "syndicate-attribution" not in ElementTree.tostring(
        withdrawn, encoding="unicode")
    assert "syndicate-attribution" in ElementTree.tostring(items[kept.canonical_url], encoding="unicode")

    listing = client.get("/v1/content/feed", headers=bearer(token)).json()["items"]
    assert {i["id"]: i["status"] for i in listing} == {gone.id: "withdrawn", kept.id: "published"}


def test_tombstones_are_not_deliveries(client, session, licensed):
    from sqlmodel import select

    from api.delivery.models import UsageEvent

    token = mint(client, licensed)["token"]
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    assert client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom"}).status_code == 200
    session.expire_all()
    assert [r.article_id for r in session.exec(select(UsageEvent)).all()] == [licensed.articles[1].id]


def test_an_unknown_feed_format_is_406_not_422(client, licensed):
    token = mint(client, licensed)["token"]
    response = client.get("/v1/content/feed", headers=bearer(token), params={"format": "pdf"})
    assert response.status_code == 406 and response.json()["available"] == ["json", "atom", "rss"]


# --- query plans ---------------------------------------------------------------------------------

def _feed_plans(session, licence, **page) -> list[str]:
    """The plans of the queries `feed_page` really runs."""
    seen: list[tuple[str, object]] = []
    engine = session.get_bind()

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM article" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        delivery.feed_page(session, LicenceView.of(licence), limit=2, **page)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen
    return [explain(session, statement, parameters) for statement, parameters in seen]


@pytest.mark.parametrize("scope", ["catalogue", "section_feed", "bundle"])
def test_feed_queries_page_by_index_without_sorting_or_scanning(session, scope):
    partner = make_partner(session)
    articles = [make_article(session, section=section) for section in ("news", "sport", "news", "news", "sport")]
    news = [a for a in articles if a.section == "news"]
    licence = make_licence(session, partner=partner, scope=scope, section="news" if scope == "section_feed" else None,
                           articles=news if scope == "bundle" else None)
    session.commit()
    first, cursor = delivery.feed_page(session, LicenceView.of(licence), updated_since=None, cursor=None, limit=2)
    assert cursor and len(first) == 2
    for page in ({"updated_since": None, "cursor": None}, {"updated_since": None, "cursor": cursor},
                 {"updated_since": first[0].updated_at, "cursor": cursor}):
        for plan in _feed_plans(session, licence, **page):
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan  # nothing sorted per request
            # No table scan. Page 1 of a catalogue feed walks ix_article_sync in order ("SCAN article USING
            # INDEX"), stopping after `limit` rows: that is keyset paging, not a scan of the table.
            assert not re.search(r"SCAN article$|SCAN article\n|Seq Scan", plan), plan
            if scope == "section_feed":
                assert "ix_article_section_sync" in plan, plan
            elif scope == "catalogue":
                assert "ix_article_sync" in plan, plan
            if page["cursor"] and scope != "bundle":
                assert "SCAN" not in plan, plan  # page N seeks its start: it costs what page 1 costs
    session.rollback()


def test_a_feed_page_with_bodies_costs_the_same_queries_whatever_its_length(app, client, session, engine):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    articles = [make_article(session) for _ in range(6)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle")
    session.commit()
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
    client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom", "limit": 1})  # warm the caches
    selects: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    def queries_for(limit: int) -> int:
        selects.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom", "limit": limit})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert page.status_code == 200 and page.content.count(b"<entry>") == limit, page.text
        return len(selects)

    assert queries_for(2) == queries_for(6)
