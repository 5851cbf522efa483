"""Renditions spliced from a per-article template are the bytes `render.render` makes for that licence,
in every format, whatever the article and the licence hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api.delivery import render, templates
from api.delivery.snapshots import (
    ArticleView,
    AssetView,
    LicenceView,
    LRUCache,
    ViewCache,
)
from tests.builders import make_licence
from tests.delivery.conftest import bearer, mint

PUBLISHER = render.Publisher(name="Middle East Eye", copyright_holder="MEE Ltd", base_url="https://syndicate.test",
                             secret=b"beacon:test-secret")
NOW = datetime(2026, 5, 4, 12, 30, tzinfo=UTC)


def _article(**changes) -> ArticleView:
    article = ArticleView(
        id="art_01", version=3, status="published", available_from=0.0, licensable=True, section="news", language="en",
        headline="Talks & \"tensions\" <rise>", standfirst="100% of the story", byline="Jane O'Neil",
        authors=("Jane O'Neil",), tags=("Syria", "Énergie"), canonical_url="https://www.middleeasteye.net/news/a?b=1&c=2",
        body_html='<p>50% up; "quoted" &amp; </script> done</p><figure><img src="https://img.example/w.jpg">'
                  '<figcaption>Wire</figcaption></figure><p>ünïcødé — %(id)s %s</p>',
        body_text="(as stored)", word_count=9, published_at=NOW - timedelta(days=2), updated_at=NOW,
        withdrawn_at=None, withdrawal_reason=None, correction_note="A date was wrong.",
        assets=(AssetView(0, "image", "https://img.example/staff.jpg", "Staff <pic>", "MEE", True),
                AssetView(1, "image", "https://img.example/w.jpg", "Wire", "Reuters", False)),
        embargo_until=None)
    return replace(article, **changes)


def _licence(**changes) -> LicenceView:
    licence = LicenceView(
        id="lic_01", partner_id="par_01", state="active", scope="catalogue", article_ids=frozenset(), section=None,
        use="web", territories=("GB", "FR"), language="en", translation=False, starts_at=NOW - timedelta(days=1),
        ends_at=NOW + timedelta(days=30), starts_ts=0.0, ends_ts=0.0, monthly_quota=500,
        conditions=("Credit \"MEE\" <visibly>", "No % changes — none"))
    return replace(licence, **changes)


ARTICLES = [_article(), _article(standfirst=None, byline=None, authors=(), tags=(), assets=(), correction_note=None),
            _article(byline=None, authors=("A", "B"), assets=(AssetView(0, "video", None, None, None, True),))]
LICENCES = [_licence(), _licence(id="lic_02", monthly_quota=None, conditions=(), territories=()),
            _licence(id="lic-03_X", scope="section_feed", section="news", use="print")]


def _spliced(article: ArticleView, licence: LicenceView, fmt: str) -> render.Rendered:
    template = templates.build(PUBLISHER, article, fmt, render.base_json(article))
    parts = templates.licence_parts(licence)
    assert template is not None and parts is not None
    return templates.splice(PUBLISHER, template, parts)


@pytest.mark.parametrize("fmt", sorted(render.FORMATS))
@pytest.mark.parametrize("article", ARTICLES)
@pytest.mark.parametrize("licence", LICENCES)
def test_a_spliced_rendition_is_the_rendition_made_from_scratch(fmt, article, licence):
    expected = render.render(PUBLISHER, licence, article, fmt, render.base_json(article))
    spliced = _spliced(article, licence, fmt)
    assert spliced.body == expected.body
    assert [h for h in spliced.ok_headers if h[0] != b"etag"] == [h for h in expected.ok_headers if h[0] != b"etag"]
    assert spliced.ok_headers[0] == (b"etag", spliced.etag.encode())
    assert (spliced.content_type, spliced.last_modified, spliced.canonical_url) == (
        expected.content_type, expected.last_modified, expected.canonical_url)


def test_the_etag_follows_the_licence_the_article_and_the_format_and_nothing_else(monkeypatch):
    article, licence = ARTICLES[0], LICENCES[0]
    etag = _spliced(article, licence, "json").etag
    assert _spliced(article, licence, "json").etag == etag
    others = {_spliced(article, LICENCES[1], "json").etag, _spliced(article, licence, "ninjs").etag,
              _spliced(replace(article, version=4, headline="New"), licence, "json").etag,
              _spliced(article, replace(licence, conditions=("Other",)), "json").etag}
    assert etag not in others and len(others) == 4
    # Another process has other placeholders and makes the same ETag (so do the other workers).
    monkeypatch.setattr(templates, "PLACEHOLDERS", templates.Placeholders.of("0123456789abcdef"))
    assert _spliced(article, licence, "json").etag == etag


def test_a_placeholder_that_would_not_survive_or_a_licence_id_that_needs_escaping_is_rendered_from_scratch(monkeypatch):
    article = ARTICLES[0]
    monkeypatch.setattr(templates, "PLACEHOLDERS", templates.Placeholders.of('0123456789ab"<&'))  # escaped in output
    assert templates.build(PUBLISHER, article, "json", render.base_json(article)) is None
    assert templates.licence_parts(_licence(id='lic_"<x>')) is None


def test_the_runtime_serves_spliced_bytes_and_a_reloaded_licence_never_gets_the_old_ones(app, client, session, licensed):
    runtime = app.state.delivery
    token = mint(client, licensed)["token"]
    article_id = licensed.articles[0].id
    first = client.get(f"/v1/content/articles/{article_id}", headers=bearer(token))
    licence, article = runtime._load_licence(licensed.licence.id), runtime._load_article(article_id)
    assert first.content == render.render(runtime.publisher, licence, article, "json", render.base_json(article)).body
    assert (article_id, article.version, "json") in runtime.templates
    amended = replace(licence, conditions=("Credit the photographer",))
    assert b"Credit the photographer" in runtime.rendition(amended, article, "json").body
    assert b"Credit the photographer" not in runtime.rendition(licence, article, "json").body
    other = make_licence(session, partner=licensed.partner, articles=licensed.articles, scope="bundle")
    session.commit()
    second = client.get(f"/v1/content/articles/{article_id}", headers=bearer(mint(client, licensed, other.id)["token"]))
    assert second.status_code == 200 and other.id.encode() in second.content and licence.id.encode() not in second.content
    assert [key for key in runtime.templates if key[0] == article_id] == [(article_id, article.version, "json")]


def test_caches_evict_the_least_recently_used_one_at_a_time():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3)
    assert list(cache) == ["a", "c"]
    views = ViewCache(2)
    for key in ("x", "y"):
        views.store(key, key.upper(), views.epoch)
    views.get("x")
    views.store("z", "Z", views.epoch)
    assert list(views) == ["x", "z"]


def test_cache_sizes_come_from_the_settings(settings, engine):
    from api.delivery.runtime import DeliveryRuntime

    sized = settings.model_copy(update={"delivery_article_cache_size": 3, "delivery_template_cache_size": 5,
                                        "delivery_licence_cache_size": 7, "delivery_rendition_cache_size": 11,
                                        "delivery_token_cache_size": 13})
    runtime = DeliveryRuntime(sized, engine)
    assert (runtime.articles.limit, runtime.templates.limit, runtime.licences.limit, runtime.licence_parts.limit,
            runtime.rendered.limit, runtime.verifier._cache_size) == (3, 5, 7, 7, 11, 13)
