"""Nothing that is not the publisher's to relicense goes out, in any format: not an agency picture
inline in the body, not its caption, not a link to it or to a resized variant of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.audit.service import Actor
from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleCreate, ArticleUpdate, AssetCreate
from api.catalogue.licensed import licensed_body as licensed_copy, url_key
from api.delivery.snapshots import ArticleView, AssetView
from tests.builders import make_api_key, make_licence, make_partner
from tests.delivery.conftest import bearer

WIRE = "https://img.example.com/wire/putin-assad.jpg"
CAPTION = "Photo: Reuters/Jane"
BODY = (
    "<p>Russia's president made a surprise visit to Damascus.</p>"
    f'<figure><img src="{WIRE}" alt="Putin and Assad"><figcaption>{CAPTION}</figcaption></figure>'
    f'<p>The two leaders met at a command post (<a href="{WIRE}?w=1600">see the full picture</a>).</p>'
    f'<p><img src="{WIRE}?w=800&amp;q=70#top" alt="">They discussed the ceasefire.</p>'
    "<figure><img src=\"https://img.example.com/staff/damascus.jpg\"><figcaption>Damascus at dawn</figcaption></figure>"
    "<p>The visit lasted three hours.</p>"
)


def licensed_body(view: ArticleView):
    return licensed_copy(body_html=view.body_html, body_text=view.body_text, words=view.word_count,
                         canonical_url=view.canonical_url, assets=view.assets)


def _view(body: str, *, assets=None) -> ArticleView:
    now = datetime.now(UTC)
    return ArticleView(
        id="art_1", version=1, status="published", available_from=0.0, licensable=True, section="news", language="en",
        headline="Headline", standfirst=None, byline=None, authors=(), tags=(),
        canonical_url="https://www.middleeasteye.net/news/putin-syria", body_html=body, body_text="(as stored)",
        word_count=2, published_at=now, updated_at=now, withdrawn_at=None, withdrawal_reason=None, correction_note=None,
        assets=assets or (AssetView(0, "image", "https://img.example.com/staff/damascus.jpg", "Damascus at dawn", "MEE", True),
                          AssetView(1, "image", WIRE, CAPTION, "Reuters/Jane", False)),
        embargo_until=None)


def test_url_keys_ignore_scheme_query_fragment_and_resolve_relative_urls():
    base = "https://www.middleeasteye.net/news/x"
    assert url_key(f"{WIRE}?w=800#a", base) == url_key(WIRE.replace("https", "http"), base) == "img.example.com/wire/putin-assad.jpg"
    assert url_key("/images/a%20b.jpg", base) == "www.middleeasteye.net/images/a b.jpg"
    assert url_key("//IMG.example.com/x.jpg", base) == "img.example.com/x.jpg"
    assert url_key("", base) is None and url_key(None, base) is None


def test_the_licensed_body_strips_every_reference_to_a_blocked_asset_and_its_caption():
    body = licensed_body(_view(BODY))
    for text in (body.html, body.text):
        assert "putin-assad" not in text and CAPTION not in text and "Putin and Assad" not in text
    assert "see the full picture" in body.text  # a text link is unwrapped: its words stay
    assert "They discussed the ceasefire." in body.text and "Damascus at dawn" in body.html  # the rest stays
    assert "staff/damascus.jpg" in body.html
    assert body.text.startswith("Russia's president") and body.word_count == len(body.text.split())
    assert [(r["position"], r["credit"]) for r in body.removed] == [(1, "Reuters/Jane")]
    assert "caption" not in body.removed[0]


@pytest.mark.parametrize("markup", [
    f'<p>x</p><figure><picture><source srcset="{WIRE}?w=400 400w, {WIRE} 1200w"><img src="/p.jpg"></picture></figure>',
    f'<p>x</p><img src="/other.jpg" srcset="/other.jpg 1x, {WIRE}?w=2000 2x">',
    f'<p>x</p><figure><a href="{WIRE}"><img src="/thumb.jpg"></a><figcaption>Caption here</figcaption></figure>',
    f'<p>x</p><div style="background-image: url(\'{WIRE}\')">decor</div>',
    f'<p>x</p><img data-src="{WIRE}">',
    f'<p>x</p><p>{CAPTION}</p>',  # a caption outside any figure
])
def test_other_ways_of_showing_the_picture_are_stripped_too(markup):
    body = licensed_body(_view(markup))
    assert "putin-assad" not in body.html and CAPTION not in body.text and "Caption here" not in body.html
    assert body.text == "x"


def test_a_relicensable_asset_at_a_blocked_url_is_not_shown_either():
    view = _view("<p>x</p>", assets=(AssetView(0, "image", WIRE + "?w=300", "Thumb", "MEE", True),
                                     AssetView(1, "image", WIRE, CAPTION, "Reuters", False)))
    assert licensed_body(view).assets == []
    assert licensed_body(replace(view, assets=view.assets[:1])).html == "<p>x</p>"  # nothing blocked: as stored


def test_no_format_carries_the_agency_picture_its_caption_or_links_to_it(client, session):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    article, _created, _changed = catalogue.upsert_article(session, ArticleCreate(
        headline="Putin makes surprise visit to Syria", standfirst="Rare visit", body_html=BODY, byline="MEE staff",
        canonical_url="https://www.middleeasteye.net/news/putin-syria", section="news", tags=["syria"],
        published_at=datetime(2020, 1, 7, 12, tzinfo=UTC),
        assets=[AssetCreate(url="https://img.example.com/staff/damascus.jpg", caption="Damascus at dawn", credit="MEE/Staff"),
                AssetCreate(url=WIRE, caption=CAPTION, credit="Reuters/Jane")],
    ), actor=Actor("system", "tests"))
    licence = make_licence(session, partner=partner, articles=[article], scope="article")
    session.commit()
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
    url = f"/v1/content/articles/{article.id}"
    answers = {
        "json": client.get(url, headers=bearer(token)),
        "ninjs": client.get(url, headers=bearer(token), params={"format": "ninjs"}),
        "html": client.get(url, headers={**bearer(token), "Accept": "text/html"}),
        "atom": client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom"}),
        "rss": client.get("/v1/content/feed", headers=bearer(token), params={"format": "rss"}),
        "feed json": client.get("/v1/content/feed", headers=bearer(token)),
    }
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert "putin-assad" not in response.text and CAPTION not in response.text, name
    for name in ("json", "ninjs", "html", "atom", "rss"):
        assert "They discussed the ceasefire." in answers[name].text and "damascus.jpg" in answers[name].text, name
    as_json = answers["json"].json()
    assert "see the full picture" in as_json["body_text"]
    # Ingest moved the pictures out of the body into assets: the publisher's own one goes out, captioned.
    assert [(a["caption"], a["credit"]) for a in as_json["assets"]] == [("Damascus at dawn", "MEE/Staff")]
    assert [a["credit"] for a in as_json["removed_assets"]] == ["Reuters/Jane"]
    plain = next(b for b in answers["ninjs"].json()["bodies"] if b["contentType"] == "text/plain")
    assert plain["value"] == as_json["body_text"] and plain["wordCount"] == as_json["word_count"]


def test_a_link_inside_a_removed_figure_goes_with_it_and_an_empty_body_stays_empty():
    markup = f'<p>a</p><figure><a href="{WIRE}"><img src="{WIRE}"></a><figcaption>Wire</figcaption></figure><p>b</p>'
    body = licensed_body(_view(markup))
    assert body.html == "<p>a</p><p>b</p>" and body.text.split() == ["a", "b"] and body.word_count == 2
    empty = licensed_body(_view(""))
    assert (empty.html, empty.text, empty.word_count) == ("", "", 0)
    assert [a.position for a in empty.assets] == [0] and [r["position"] for r in empty.removed] == [1]


def test_a_block_is_removed_only_when_it_holds_nothing_but_a_blocked_caption_or_credit():
    markup = f"<p>x</p><div>{CAPTION}</div><li>Reuters/Jane</li><p>{CAPTION} and more words</p>"
    body = licensed_body(_view(markup))
    assert body.html == f"<p>x</p><p>{CAPTION} and more words</p>"


def _import(session, body: str = BODY):
    article, _created, _changed = catalogue.upsert_article(session, ArticleCreate(
        headline="Putin makes surprise visit to Syria", body_html=body,
        canonical_url="https://www.middleeasteye.net/news/putin-syria", published_at=datetime(2020, 1, 7, 12, tzinfo=UTC),
        assets=[AssetCreate(url=WIRE, caption=CAPTION, credit="Reuters/Jane")],
    ), actor=Actor("system", "tests"))
    return article


def _no_parsing(monkeypatch) -> None:
    """Any HTML parse of a licensed copy from here on fails the test."""
    from api.catalogue import licensed

    def refuse(*_args, **_kwargs):
        raise AssertionError("the licensed copy was parsed again on delivery")

    monkeypatch.setattr(licensed, "LexborHTMLParser", refuse)


def test_the_licensed_copy_is_made_at_write_and_a_first_delivery_parses_no_html(client, session, monkeypatch):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    article = _import(session)
    assert article.licensed_from == article.content_hash and "putin-assad" not in (article.licensed_html or "")
    assert "They discussed the ceasefire." in (article.licensed_text or "") and article.licensed_words
    licence = make_licence(session, partner=partner, articles=[article], scope="article")
    session.commit()
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
    _no_parsing(monkeypatch)
    for fmt in ("json", "ninjs", "html"):
        response = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token), params={"format": fmt})
        assert response.status_code == 200 and "putin-assad" not in response.text and CAPTION not in response.text
    assert client.get(f"/v1/content/articles/{article.id}", headers=bearer(token)).json()["word_count"] == article.licensed_words


def test_an_edit_makes_a_new_licensed_copy_and_a_body_that_needs_nothing_removed_is_its_own(session):
    article = _import(session)
    first = article.licensed_html
    catalogue.update_article(session, article.id, ArticleUpdate(body_html=BODY + "<p>Update: talks resumed.</p>"),
                             actor=Actor("system", "tests"))
    assert article.licensed_from == article.content_hash and article.licensed_html != first
    assert "talks resumed" in (article.licensed_html or "") and "putin-assad" not in (article.licensed_html or "")
    catalogue.update_article(session, article.id, ArticleUpdate(assets=[]), actor=Actor("system", "tests"))
    assert article.licensed_from == article.content_hash and article.licensed_html is None  # nothing blocked now


def test_articles_without_a_current_copy_are_served_stripped_and_copied_by_the_periodic_job(client, session):
    from sqlalchemy import update

    from api.catalogue.models import Article

    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    article = _import(session)
    licence = make_licence(session, partner=partner, articles=[article], scope="article")
    # As an article written before copies were made at write (migration 0022) is stored.
    session.execute(update(Article).where(Article.id == article.id).values(
        licensed_html=None, licensed_text=None, licensed_words=None, licensed_from=None))
    session.commit()
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
    response = client.get(f"/v1/content/articles/{article.id}", headers=bearer(token))
    assert response.status_code == 200 and "putin-assad" not in response.text and CAPTION not in response.text
    assert catalogue.fill_licensed_copies(session, limit=10) == 1
    session.commit()
    session.refresh(article)
    assert article.licensed_from == article.content_hash and "putin-assad" not in (article.licensed_html or "")
    assert catalogue.fill_licensed_copies(session, limit=10) == 0


def test_a_view_whose_body_was_replaced_is_stripped_again():
    """A past version's view carries the raw body it had: the stored copy's mark no longer matches it."""
    stored = replace(_view("<p>x</p>"), licensed_hash=hash("<p>x</p>"))
    assert stored.body_is_licensed
    past = replace(stored, body_html=BODY)
    assert not past.body_is_licensed
    assert "putin-assad" not in licensed_copy(body_html=past.body_html, body_text=past.body_text, words=past.word_count,
                                              canonical_url=past.canonical_url, assets=past.assets,
                                              already_licensed=past.body_is_licensed).html
