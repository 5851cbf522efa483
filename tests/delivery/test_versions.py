"""Versions: a licensee lists every version of an article it licenses (number, time, correction or
update, note) and fetches each one rendered under its licence, in the article's formats."""

from __future__ import annotations

from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.delivery.models import UsageEvent
from tests.builders import TEST_ACTOR, make_article
from tests.delivery.conftest import bearer, mint


def _three_versions(session, article) -> None:
    catalogue.update_article(session, article.id, ArticleUpdate(headline="Second headline"), actor=TEST_ACTOR)
    session.commit()
    catalogue.update_article(session, article.id, ArticleUpdate(
        headline="Third headline", body_html="<p>The corrected paragraph.</p>", correction_note="Date fixed"),
        actor=TEST_ACTOR)
    session.commit()


def test_the_versions_list_says_when_and_what_each_was(client, session, licensed):
    article = licensed.articles[1]
    original = article.headline
    _three_versions(session, article)
    token = mint(client, licensed)["token"]
    answer = client.get(f"/v1/content/articles/{article.id}/versions", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    assert listing["current_version"] == 3
    assert [(v["version"], v["kind"], v["note"], v["current"]) for v in listing["items"]] == [
        (1, "original", None, False), (2, "update", None, False), (3, "correction", "Date fixed", True)]
    assert [v["headline"] for v in listing["items"]] == [original, "Second headline", "Third headline"]
    assert listing["items"][0]["created_at"] <= listing["items"][2]["created_at"]
    assert listing["items"][1]["content_url"] == f"https://syndicate.test/v1/content/articles/{article.id}/versions/2"
    cursors = [int(v["change_cursor"]) for v in listing["items"]]
    assert cursors == sorted(cursors)


def test_each_version_renders_under_the_licence_in_every_format(client, session, licensed):
    article = licensed.articles[0]  # with a Reuters picture, which no version may carry
    original_headline, original_body = article.headline, article.body_html
    _three_versions(session, article)
    token = mint(client, licensed)["token"]
    first = client.get(f"/v1/content/articles/{article.id}/versions/1", headers=bearer(token))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["version"] == 1 and body["headline"] == original_headline and body["correction_note"] is None
    assert body["body_html"] == original_body and "Reuters" in body["removed_assets"][0]["reason"]
    assert body["attribution"]["licence"]["id"] == licensed.licence.id
    third = client.get(f"/v1/content/articles/{article.id}/versions/3", headers=bearer(token)).json()
    assert third["correction_note"] == "Date fixed" and "corrected paragraph" in third["body_html"]

    html = client.get(f"/v1/content/articles/{article.id}/versions/2", headers={**bearer(token), "Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "Second headline" in html.text and 'data-version="2"' in html.text and "wire.jpg" not in html.text
    ninjs = client.get(f"/v1/content/articles/{article.id}/versions/2", headers=bearer(token), params={"format": "ninjs"})
    assert ninjs.json()["version"] == "2"
    again = client.get(f"/v1/content/articles/{article.id}/versions/1", headers={
        **bearer(token), "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304

    session.expire_all()
    delivered = session.exec(select(UsageEvent.article_version, UsageEvent.format).where(
        UsageEvent.licence_id == licensed.licence.id)).all()
    assert sorted(delivered) == [(1, "json"), (2, "html"), (2, "ninjs"), (3, "json")]  # metered; the 304 is not
    missing = client.get(f"/v1/content/articles/{article.id}/versions/4", headers=bearer(token))
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/content-version-not-found"


def test_versions_of_an_article_outside_the_licence_or_withdrawn_are_refused(client, session, licensed):
    outside = make_article(session)
    session.commit()
    token = mint(client, licensed)["token"]
    for path in (f"/v1/content/articles/{outside.id}/versions", f"/v1/content/articles/{outside.id}/versions/1"):
        assert client.get(path, headers=bearer(token)).json()["type"] == "/problems/not-covered"
    catalogue.withdraw_article(session, licensed.articles[1].id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    gone = client.get(f"/v1/content/articles/{licensed.articles[1].id}/versions/1", headers=bearer(token))
    assert gone.status_code == 410
    assert client.get(f"/v1/content/articles/{licensed.articles[1].id}/versions").status_code == 401


def test_a_past_version_renders_with_its_own_standfirst_byline_and_pictures(client, session, licensed):
    """Revisions keep all a rendering shows: version 1 after an edit of the standfirst, byline,
    authors, tags and pictures is still the original, in JSON and HTML; version 2 is the edit."""
    from api.catalogue.schemas import AssetCreate

    article = licensed.articles[1]
    old_standfirst, old_tags = article.standfirst, list(article.tags)
    catalogue.update_article(session, article.id, ArticleUpdate(
        standfirst="A rewritten standfirst", byline="Jane Reporter", authors=["Jane Reporter"], tags=["gulf"],
        assets=[AssetCreate(url="https://img.example.com/new.jpg", caption="New picture", credit="MEE/Staff")]),
        actor=TEST_ACTOR)
    session.commit()
    token = mint(client, licensed)["token"]

    first = client.get(f"/v1/content/articles/{article.id}/versions/1", headers=bearer(token)).json()
    assert (first["standfirst"], first["byline"], first["authors"], first["tags"]) == (
        old_standfirst, "MEE staff", ["MEE staff"], old_tags)
    assert [a["caption"] for a in first["assets"]] == ["Staff picture"]
    assert first["attribution"]["byline"] == "MEE staff"
    html = client.get(f"/v1/content/articles/{article.id}/versions/1",
                      headers={**bearer(token), "Accept": "text/html"}).text
    assert f'<p class="standfirst">{old_standfirst}</p>' in html and '<p class="byline">MEE staff</p>' in html
    assert "Jane Reporter" not in html and "rewritten" not in html and "new.jpg" not in html

    second = client.get(f"/v1/content/articles/{article.id}/versions/2", headers=bearer(token)).json()
    assert (second["standfirst"], second["byline"], second["tags"]) == ("A rewritten standfirst", "Jane Reporter", ["gulf"])
    assert [a["url"] for a in second["assets"]] == ["https://img.example.com/new.jpg"]
    current = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).json()
    assert {k: current[k] for k in ("standfirst", "byline", "assets")} == {k: second[k] for k in ("standfirst", "byline", "assets")}


def test_a_past_version_keeps_a_wire_picture_out_as_it_was_credited(client, session, licensed):
    """The Reuters picture of version 1 is removed from version 1 even after the article drops it."""
    article = licensed.articles[0]
    catalogue.update_article(session, article.id, ArticleUpdate(assets=[]), actor=TEST_ACTOR)
    session.commit()
    token = mint(client, licensed)["token"]
    first = client.get(f"/v1/content/articles/{article.id}/versions/1", headers=bearer(token)).json()
    assert [a["caption"] for a in first["assets"]] == ["Staff picture"]
    assert "Reuters" in first["removed_assets"][0]["reason"]
    assert client.get(f"/v1/content/articles/{article.id}/versions/2", headers=bearer(token)).json()["assets"] == []
