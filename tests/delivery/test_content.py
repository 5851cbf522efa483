"""Licensed renditions, attribution, negotiation, conditional requests, feeds and beacons."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from types import SimpleNamespace
from xml.etree import ElementTree

import jsonschema
from sqlalchemy import update
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.models import Article, ArticleStatus
from api.catalogue.schemas import ArticleUpdate
from api.core.db import utcnow
from api.delivery import runtime
from api.tracking.models import BeaconSighting
from tests.builders import TEST_ACTOR, make_api_key, make_article, make_licence, make_partner
from tests.conftest import STANDARDS
from tests.delivery.conftest import bearer, mint

NINJS_SCHEMA = json.loads((STANDARDS / "ninjs" / "ninjs-schema_3.1.json").read_text())


def _get(client, article_id, token, **kwargs):
    headers = {**bearer(token), **kwargs.pop("headers", {})}
    return client.get(f"/v1/content/articles/{article_id}", headers=headers, **kwargs)


def test_json_rendition_removes_agency_assets_and_carries_attribution(client, licensed, settings):
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    response = _get(client, article.id, token)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"] == article.id and body["version"] == article.version
    assert [a["credit"] for a in body["assets"]] == ["MEE/Staff"]
    assert [r["credit"] for r in body["removed_assets"]] == ["Reuters"] and "Reuters" in body["removed_assets"][0]["reason"]
    assert "wire.jpg" not in response.text
    attribution = body["attribution"]
    assert attribution["canonical_url"] == article.canonical_url
    assert attribution["publisher"] == settings.publisher_name and attribution["byline"] == "MEE staff"
    assert settings.copyright_holder in attribution["copyright_notice"]
    assert attribution["licence"]["id"] == licensed.licence.id and attribution["licence"]["terms"]
    assert f'<link rel="canonical" href="{article.canonical_url}">' in attribution["html"]
    assert attribution["beacon_url"] in attribution["html"]
    ld = attribution["json_ld"]
    assert ld["@type"] == "NewsArticle" and ld["isBasedOn"] == article.canonical_url
    assert ld["copyrightHolder"]["name"] == settings.copyright_holder and licensed.licence.id in ld["license"]
    assert response.headers["link"] == f'<{article.canonical_url}>; rel="canonical"'


def test_ninjs_rendition_validates_against_the_iptc_schema(client, licensed, settings):
    token = mint(client, licensed)["token"]
    response = _get(client, licensed.articles[0].id, token, params={"format": "ninjs"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.iptc.ninjs+json"
    document = response.json()
    jsonschema.validate(document, NINJS_SCHEMA)
    assert document["copyrightHolder"] == settings.copyright_holder
    assert settings.copyright_holder in document["copyrightNotice"]
    assert licensed.licence.id in document["usageTerms"] and document["rightsInfo"]["linkedRights"]
    assert "Reuters" in document["edNote"] and "wire.jpg" not in response.text
    assert any(b["role"] == "attribution" and 'rel="canonical"' in b["value"] for b in document["bodies"])
    by_accept = _get(client, licensed.articles[0].id, token, headers={"Accept": "application/vnd.iptc.ninjs+json"})
    assert by_accept.json() == document


def test_html_fragment_embeds_attribution_and_json_ld(client, licensed):
    token = mint(client, licensed)["token"]
    response = _get(client, licensed.articles[0].id, token, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html.startswith('<article class="syndicate-article"') and licensed.articles[0].headline in html
    assert 'rel="canonical"' in html and '<script type="application/ld+json">' in html and "/v1/content/beacon/" in html
    assert "wire.jpg" not in html and "Reuters" not in html  # removed, and why is told to the partner, not readers


def test_unknown_format_is_a_406_problem(client, licensed):
    token = mint(client, licensed)["token"]
    response = _get(client, licensed.articles[0].id, token, params={"format": "pdf"})
    assert response.status_code == 406 and response.json()["type"] == "/problems/format-not-acceptable"
    response = _get(client, licensed.articles[0].id, token, headers={"Accept": "image/png"})
    assert response.status_code == 406


def test_etag_and_last_modified_give_304(client, licensed):
    token = mint(client, licensed)["token"]
    article = licensed.articles[0].id
    first = _get(client, article, token)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = _get(client, article, token, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert _get(client, article, token, headers={"If-Modified-Since": modified}).status_code == 304
    assert _get(client, article, token, headers={"If-None-Match": '"other"'}).status_code == 200
    ninjs = _get(client, article, token, params={"format": "ninjs"})
    assert ninjs.headers["etag"] != etag


def test_update_changes_version_etag_and_body(client, session, licensed):
    token = mint(client, licensed)["token"]
    article = licensed.articles[1]
    before = _get(client, article.id, token)
    catalogue.update_article(session, article.id, ArticleUpdate(headline="Corrected headline", correction_note="Date fixed"),
                             actor=TEST_ACTOR)
    session.commit()
    after = _get(client, article.id, token, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.json()["version"] == before.json()["version"] + 1
    assert after.json()["headline"] == "Corrected headline" and after.json()["correction_note"] == "Date fixed"


def test_withdrawn_article_is_410_at_once(client, session, licensed):
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    assert _get(client, article.id, token).status_code == 200
    catalogue.withdraw_article(session, article.id, reason="Legal complaint", actor=TEST_ACTOR)
    session.commit()
    response = _get(client, article.id, token)
    assert response.status_code == 410 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/content-withdrawn" and "Legal complaint" in response.json()["detail"]


def test_missing_article_is_404(client, licensed):
    token = mint(client, licensed)["token"]
    assert _get(client, "art_nothing", token).status_code == 404


def test_section_feed_licence_covers_its_section_only(client, session):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    news, sport = make_article(session, section="news"), make_article(session, section="sport")
    licence = make_licence(session, partner=partner, scope="section_feed", section="news")
    session.commit()
    response = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key})
    token = response.json()["token"]
    assert _get(client, news.id, token).status_code == 200
    assert _get(client, sport.id, token).status_code == 403
    assert _get(client, news.id, token, params={"territory": "FR"}).status_code == 403
    assert _get(client, news.id, token, params={"territory": "gb"}).status_code == 200


def test_feed_lists_covered_articles_with_keyset_pagination_and_updated_since(client, session, licensed):
    token = mint(client, licensed)["token"]
    first = client.get("/v1/content/feed", headers=bearer(token), params={"limit": 1})
    assert first.status_code == 200
    page1 = first.json()
    assert len(page1["items"]) == 1 and page1["next_cursor"]
    page2 = client.get("/v1/content/feed", headers=bearer(token), params={"limit": 1, "cursor": page1["next_cursor"]}).json()
    assert {page1["items"][0]["id"], page2["items"][0]["id"]} == {a.id for a in licensed.articles}
    assert page2["next_cursor"] is None
    assert client.get("/v1/content/feed", headers={**bearer(token), "If-None-Match": first.headers["etag"]},
                      params={"limit": 1}).status_code == 304
    mark = utcnow()
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="takedown", actor=TEST_ACTOR)
    session.commit()
    changed = client.get("/v1/content/feed", headers=bearer(token), params={"updated_since": mark.isoformat()}).json()
    assert [(i["id"], i["status"]) for i in changed["items"]] == [(licensed.articles[0].id, "withdrawn")]


def test_atom_and_rss_feeds_carry_licensed_bodies(client, licensed):
    token = mint(client, licensed)["token"]
    atom = client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom"})
    assert atom.status_code == 200 and atom.headers["content-type"] == "application/atom+xml"
    root = ElementTree.fromstring(atom.content)
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 2 and b"syndicate-attribution" in atom.content and b"wire.jpg" not in atom.content
    rss = client.get("/v1/content/feed", headers={**bearer(token), "Accept": "application/rss+xml"})
    assert rss.status_code == 200 and len(ElementTree.fromstring(rss.content).findall("./channel/item")) == 2


def test_beacon_records_where_the_copy_was_shown(client, session, licensed):
    token = mint(client, licensed)["token"]
    beacon = _get(client, licensed.articles[0].id, token).json()["attribution"]["beacon_url"]
    path = beacon.removeprefix("https://syndicate.test")
    for _ in range(2):
        response = client.get(path, params={"url": "https://outlet.example/story"})
        assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    client.app.state.beacons.flush()  # answered at once, counted by the flusher within ~100 ms: now
    session.rollback()
    [sighting] = session.exec(select(BeaconSighting)).all()
    assert (sighting.licence_id, sighting.article_id, sighting.page_url, sighting.hits) == (
        licensed.licence.id, licensed.articles[0].id, "https://outlet.example/story", 2)
    forged = path.replace(licensed.articles[0].id, licensed.articles[1].id)
    assert client.get(forged).status_code == 404


def test_licence_period_not_started_is_refused(client, session, licensed):
    token = mint(client, licensed)["token"]
    licensed.licence.starts_at = utcnow() + timedelta(days=1)
    session.add(licensed.licence)
    session.commit()
    assert _get(client, licensed.articles[0].id, token).status_code == 403


def test_an_embargo_lifts_on_time_although_the_article_is_cached(client, session, licensed, monkeypatch):
    token = mint(client, licensed)["token"]
    article = licensed.articles[1]
    lifts_at = utcnow() + timedelta(minutes=10)
    # The poller drops the cached view when it sees the test's own commit, at a moment of its choosing
    # (on PostgreSQL it sometimes came between the first fetch and the check that the view is cached):
    # stopped first, so the second fetch is answered from the view the first one cached.
    delivery = client.app.state.delivery
    delivery._stop.set()
    delivery._poller.join()
    catalogue.update_article(session, article.id, ArticleUpdate(embargo_until=lifts_at), actor=TEST_ACTOR)
    session.commit()
    early = _get(client, article.id, token)
    assert early.status_code == 403 and "embargo" in early.json()["detail"]
    assert article.id in client.app.state.delivery.articles  # the view is cached, embargo and all
    # The delivery runtime's clock moves past the embargo's end (rather than the test waiting for it).
    later = lifts_at.timestamp() + 0.05
    monkeypatch.setattr(runtime, "time", SimpleNamespace(time=lambda: later, monotonic=time.monotonic))
    assert _get(client, article.id, token).status_code == 200
    assert article.id in client.app.state.delivery.articles


def test_an_embargo_without_an_end_is_never_served(client, session, licensed):
    token = mint(client, licensed)["token"]
    article = licensed.articles[1]
    session.execute(update(Article).where(Article.id == article.id).values(status=ArticleStatus.embargoed))
    session.commit()
    assert _get(client, article.id, token).status_code == 403


def test_feed_takes_updated_since_without_an_offset_as_utc(client, licensed):
    token = mint(client, licensed)["token"]
    response = client.get("/v1/content/feed", headers=bearer(token), params={"updated_since": "2000-01-01T00:00:00"})
    assert response.status_code == 200, response.text
    assert {i["id"] for i in response.json()["items"]} == {a.id for a in licensed.articles}
