"""Pictures inside a body become assets at ingest, whichever way the article arrives."""

from __future__ import annotations

import json

from sqlmodel import Session

from api.catalogue import service
from api.catalogue.importers import parse_document
from api.catalogue.inline_images import extract_images
from api.catalogue.models import Article
from api.catalogue.schemas import ArticleUpdate
from tests.builders import TEST_ACTOR

WIRE = "https://img.example/putin-assad.jpg"
OURS = "https://img.example/idlib.jpg"
BODY = (
    "<p>Russia's president met his Syrian counterpart on Tuesday.</p>"
    f'<figure><img src="{WIRE}" alt="Putin and Assad"><figcaption>Putin and Assad (Reuters)</figcaption></figure>'
    "<p>The two discussed recent battles.</p>"
    f'<p><img src="{OURS}" alt="Displaced families in Idlib" data-credit="MEE/Ali Haj Suleiman"></p>'
    "<p>Since mid-December, the bombing has intensified.</p>"
)
PARAGRAPHS = ("Russia's president met his Syrian counterpart on Tuesday.\n\nThe two discussed recent battles.\n\n"
              "Since mid-December, the bombing has intensified.")


def _import(session: Session, document: str | bytes, **kwargs) -> Article:
    [(article, _created, _changed)] = service.import_articles(session, parse_document(document, **kwargs), actor=TEST_ACTOR)
    return article


def _assets(session: Session, article: Article) -> list[tuple]:
    return [(a.url, a.caption, a.credit, a.relicensable) for a in service.get_assets(session, article.id)]


def _text_only(article: Article) -> None:
    for tag in ("<img", "<figure", "<figcaption", "Reuters", "MEE/Ali"):
        assert tag not in article.body_html, tag
    assert article.body_text == PARAGRAPHS and article.word_count == 19


def test_own_json_body_pictures_become_assets_and_leave_the_body(session: Session) -> None:
    document = {"external_id": "cms-7", "headline": "Putin in Damascus", "body_html": BODY,
                "canonical_url": "https://www.middleeasteye.net/news/putin-damascus",
                "assets": [{"url": "https://img.example/lead.jpg", "caption": "Lead picture", "credit": "MEE"}]}
    article = _import(session, json.dumps(document))
    _text_only(article)
    assert _assets(session, article) == [
        ("https://img.example/lead.jpg", "Lead picture", "MEE", True),
        (WIRE, "Putin and Assad", "Reuters", False),
        (OURS, "Displaced families in Idlib", "MEE/Ali Haj Suleiman", True),
    ]
    again, created, changed = service.upsert_article(session, parse_document(json.dumps(document))[0], actor=TEST_ACTOR)
    assert (again.id, created, changed, again.version) == (article.id, False, False, 1)  # re-import is unchanged


def test_ninjs_body_pictures_join_its_associations_once(session: Session) -> None:
    item = {
        "uri": "https://www.middleeasteye.net/news/putin-damascus", "type": "text",
        "headlines": [{"role": "main", "value": "Putin in Damascus"}],
        "bodies": [{"role": "main", "contentType": "text/html", "value": BODY}],
        "associations": [{"name": "featureimage", "type": "picture", "copyrightHolder": "Reuters",
                          "descriptions": [{"role": "caption", "value": "Putin and Assad"}],
                          "renditions": [{"name": "original", "href": WIRE}]}],
    }
    article = _import(session, json.dumps(item))
    _text_only(article)
    assert _assets(session, article) == [
        (WIRE, "Putin and Assad", "Reuters", False),  # the association; the inline copy is not repeated
        (OURS, "Displaced families in Idlib", "MEE/Ali Haj Suleiman", True),
    ]


def test_html_page_pictures_in_paragraphs_become_assets(session: Session) -> None:
    page = (
        '<html><head><link rel="canonical" href="https://www.middleeasteye.net/news/idlib"></head><body><article>'
        "<h1>Bombing intensifies in Idlib</h1>"
        "<p>Russia's president met his Syrian counterpart on Tuesday.</p>"
        f'<p><img src="{WIRE}"> Putin and Assad meet in Damascus (AFP)</p>'
        "<p>The two discussed recent battles.</p>"
        f'<p><a href="/gallery"><img src="{OURS}" alt="Displaced families in Idlib"></a></p>'
        '<p class="caption">Families shelter near the border <span class="credit">MEE/Ali Haj Suleiman</span></p>'
        "<p>Since mid-December, the bombing has intensified.</p>"
        "</article></body></html>"
    )
    article = _import(session, page)
    _text_only(article)
    assert _assets(session, article) == [
        (WIRE, "Putin and Assad meet in Damascus", "AFP", False),
        (OURS, "Families shelter near the border", "MEE/Ali Haj Suleiman", True),
    ]


def test_an_edit_that_adds_a_picture_keeps_the_stored_assets(session: Session) -> None:
    document = {"headline": "Talks resume", "body_html": "<p>Negotiators met on Monday.</p>",
                "canonical_url": "https://www.middleeasteye.net/news/talks",
                "assets": [{"url": OURS, "caption": "Ours", "credit": "MEE"}]}
    article = _import(session, json.dumps(document))
    body = ('<p>Negotiators met on Monday.</p><figure><img src="https://img.example/cairo.jpg">'
            '<figcaption>Delegates arrive in Cairo <span class="credit">Photo: Getty Images</span></figcaption></figure>')
    edited = service.update_article(session, article.id, ArticleUpdate(body_html=body), actor=TEST_ACTOR)
    assert edited.version == 2 and "<img" not in edited.body_html and edited.body_text == "Negotiators met on Monday."
    assert _assets(session, edited) == [(OURS, "Ours", "MEE", True),
                                        ("https://img.example/cairo.jpg", "Delegates arrive in Cairo", "Getty Images", False)]
    same = service.update_article(session, article.id, ArticleUpdate(body_html=body), actor=TEST_ACTOR)
    assert same.version == 2 and len(_assets(session, same)) == 2


def test_extraction_rules() -> None:
    # A body without pictures is left exactly as it was (stored articles keep their content hash).
    untouched = "<p>Plain <b>text</b>.</p>"
    assert extract_images(untouched) == (untouched, [])
    # A figure without a picture (a pull quote) is text, and stays.
    quote = "<figure><blockquote>We will rebuild.</blockquote><figcaption>The mayor</figcaption></figure>"
    assert extract_images(quote) == (quote, [])
    # An address a licensee cannot fetch is not kept; the credit still is.
    body, [relative] = extract_images('<figure><img src="/img/x.jpg"><figcaption>Smoke rises (EPA)</figcaption></figure><p>B</p>')
    assert body == "<p>B</p>" and relative == {"url": None, "caption": "Smoke rises", "credit": "EPA"}
    body, found = extract_images('<p>Text <img src="javascript:alert(1)" alt="x"> more text that goes on.</p>')
    assert "<img" not in body and "javascript" not in body and found == []
    # A <picture> is one asset; a protocol-relative address becomes https.
    _body, [picture] = extract_images('<picture><source srcset="//cdn.example/f.webp 1x"><img alt="Photo: AP"></picture><p>B</p>')
    assert picture == {"url": "https://cdn.example/f.webp", "caption": None, "credit": "AP"}


def test_html_page_without_an_article_element_loses_its_pictures_to_assets_too() -> None:
    page = ('<html><head><link rel="canonical" href="https://www.middleeasteye.net/news/talks"></head><body>'
            '<h1>Talks resume in Cairo</h1><p><img src="https://img.example/cairo.jpg" alt="Delegates arrive (AFP)"></p>'
            "<p>Negotiators met on Monday.</p><p>They will meet again.</p></body></html>")
    [article] = parse_document(page)
    assert article.body_html == "<p>Negotiators met on Monday.</p><p>They will meet again.</p>"
    assert [(a.url, a.caption, a.credit) for a in article.assets] == [("https://img.example/cairo.jpg", "Delegates arrive", "AFP")]
