"""Importers: documents in, validated ArticleCreate out (no database needed)."""

from __future__ import annotations

import json

import pytest
from selectolax.lexbor import LexborHTMLParser

from api.catalogue.errors import (
    CanonicalUrlRequired, EmptyArticleBody, EmptyDocument, InvalidArticle, MalformedJson, MissingHeadline,
    UndecodableDocument, UnknownImportFormat, UnsupportedImportMediaType,
)
from api.catalogue.importers import ImportFormat, detect_format, format_for_media_type, parse_document
from api.catalogue.importers.furniture import split_caption
from api.catalogue.text import is_agency_credit
from tests.catalogue.pages import (
    CANONICAL, CAPTION, FIRST_PARAGRAPH, FURNITURE, HEADLINE, LAST_PARAGRAPH, SAMPLE_TEXT, STANDFIRST, TEASER_HEADLINES,
    bare_html_page, mee_html_page, sample_paragraphs,
)
from tests.conftest import STANDARDS

NINJS_EXAMPLES = STANDARDS / "ninjs" / "examples-3.1"
TEMPLATE = "https://www.middleeasteye.net/news/{slug}"


def _paragraphs(body_html: str) -> list[str]:
    return [p.text(strip=True).replace("\u00a0", " ") for p in LexborHTMLParser(body_html).css("p")]


# --- the sample page -------------------------------------------------------------------------


def test_sample_text_page_becomes_a_clean_article() -> None:
    [article] = parse_document(SAMPLE_TEXT.read_bytes(), source=str(SAMPLE_TEXT), canonical_template=TEMPLATE)
    assert article.headline == HEADLINE
    assert article.standfirst == STANDFIRST
    [asset] = article.assets
    assert asset.caption == CAPTION and asset.credit == "Reuters" and asset.relicensable is None
    assert is_agency_credit(asset.credit)  # so the service stores it as not relicensable
    paragraphs = _paragraphs(article.body_html)
    assert paragraphs[0] == FIRST_PARAGRAPH
    assert paragraphs[-1] == LAST_PARAGRAPH
    assert paragraphs == [p.replace("\u00a0", " ") for p in sample_paragraphs()]
    assert "<h2>Heightened tensions</h2>" in article.body_html
    for furniture in FURNITURE:
        assert furniture not in article.body_html, furniture
    assert HEADLINE not in article.body_html and STANDFIRST not in article.body_html and "(Reuters)" not in article.body_html


def test_text_page_canonical_url_is_explicit_or_derived_from_the_publishers_url_pattern() -> None:
    [pinned] = parse_document(SAMPLE_TEXT.read_text(), format="text", canonical_url=CANONICAL, canonical_template=TEMPLATE)
    assert str(pinned.canonical_url) == CANONICAL
    [derived] = parse_document(SAMPLE_TEXT.read_text(), format="text", canonical_template=TEMPLATE)
    assert str(derived.canonical_url) == \
        "https://www.middleeasteye.net/news/putin-makes-surprise-visit-to-syria-amid-us-iran-tensions"
    with pytest.raises(CanonicalUrlRequired, match="SYNDICATE_CANONICAL_URL_TEMPLATE"):
        parse_document(SAMPLE_TEXT.read_text(), format="text")  # no pattern configured: nothing is made up


@pytest.mark.parametrize("page", [mee_html_page, bare_html_page], ids=["publisher-page", "paragraphs-only"])
def test_html_page_becomes_the_same_clean_article(page) -> None:
    [article] = parse_document(page(), format="html", canonical_template=TEMPLATE)
    assert article.headline == HEADLINE
    assert article.standfirst == STANDFIRST
    [asset] = article.assets
    assert (asset.caption, asset.credit) == (CAPTION, "Reuters")
    paragraphs = [p for p in _paragraphs(article.body_html) if p != "Heightened tensions"]
    assert paragraphs == [p.replace("\u00a0", " ") for p in sample_paragraphs()]
    for furniture in (*FURNITURE, "Share on Twitter", "Most read", "Another story entirely", "7 January 2020", "By MEE"):
        assert furniture not in article.body_html, furniture


def test_html_page_metadata_comes_from_json_ld_meta_and_canonical_link() -> None:
    [article] = parse_document(mee_html_page(), source="putin.html")
    assert str(article.canonical_url) == CANONICAL
    assert article.byline == "MEE and agencies" and article.authors == ["MEE and agencies"]
    assert article.section == "News" and article.language == "en"
    assert article.tags == ["Russia", "Syria", "Vladimir Putin", "Iran"]
    assert article.published_at is not None and article.published_at.isoformat() == "2020-01-07T14:24:00+00:00"
    assert article.assets[0].url == "https://www.middleeasteye.net/img/putin-assad.jpg"


def test_html_page_byline_and_date_without_json_ld() -> None:
    page = ('<html><body><article><h1>Talks resume</h1><p class="byline">Jane Doe</p>'
            '<time datetime="not a date">Monday</time><p>Negotiators met on Monday.</p></article></body></html>')
    [article] = parse_document(page, canonical_template=TEMPLATE)
    assert article.byline == "Jane Doe" and article.published_at is None  # a broken date is ignored, not fatal
    assert _paragraphs(article.body_html) == ["Negotiators met on Monday."]


def test_html_page_override_url_wins_over_the_stated_one() -> None:
    [article] = parse_document(mee_html_page(), format="html", canonical_url="https://example.com/elsewhere")
    assert str(article.canonical_url) == "https://example.com/elsewhere"


# --- ninjs -----------------------------------------------------------------------------------


def test_ninjs_3_examples_import() -> None:
    for path in sorted(NINJS_EXAMPLES.glob("*.json")):
        [article] = parse_document(path.read_bytes(), source=path.name)
        raw = json.loads(path.read_text())
        assert article.headline == "Captain of wrecked cruise ship on trial in Italy"
        assert article.external_id == raw["uri"] and str(article.canonical_url) == raw["uri"]
        assert article.byline == "Paulo Santalucia and Frances d'Emilio"
        assert article.published_at is not None and article.published_at.isoformat() == "2013-07-09T10:37:00+00:00"
        paragraphs = _paragraphs(article.body_html)  # the rich-text body is preferred over the plain one
        assert len(paragraphs) == 4 and paragraphs[0].startswith("GROSSETO, Italy (AP)")


def test_ninjs_2_lowercase_with_subjects_associations_and_copyright() -> None:
    item = {
        "uri": "https://www.middleeasteye.net/news/gaza-ceasefire", "type": "text", "language": "en",
        "firstcreated": "2024-01-02T08:00:00+01:00", "versioncreated": "2024-01-02T09:30:00Z",
        "headlines": [{"role": "main", "value": "Gaza ceasefire talks resume"}, {"role": "sub", "value": "Talks in Cairo"}],
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": "First paragraph.\n\nSecond paragraph."}],
        "by": "MEE correspondent", "subjects": [{"name": "Gaza"}, {"name": "Egypt"}], "keywords": ["ceasefire"],
        "copyrightholder": "Middle East Eye",
        "associations": [
            {"name": "featureimage", "uri": "urn:pic:1", "type": "picture", "copyrightholder": "AFP",
             "descriptions": [{"role": "caption", "value": "Negotiators arrive in Cairo"}],
             "renditions": [{"name": "thumb", "href": "https://img.example/t.jpg", "width": 100, "height": 60},
                            {"name": "large", "href": "https://img.example/l.jpg", "width": 2000, "height": 1200}]},
            {"name": "staffpic", "uri": "urn:pic:2", "type": "picture", "by": "MEE/Staff",
             "renditions": [{"name": "original", "href": "https://img.example/o.jpg"}]},
        ],
    }
    [article] = parse_document(json.dumps(item), format=ImportFormat.ninjs)
    assert article.headline == "Gaza ceasefire talks resume" and article.standfirst == "Talks in Cairo"
    assert _paragraphs(article.body_html) == ["First paragraph.", "Second paragraph."]
    assert article.tags == ["Gaza", "Egypt", "ceasefire"]
    assert article.published_at.isoformat() == "2024-01-02T07:00:00+00:00"  # firstcreated, in UTC
    assert article.licensable is True
    wire, staff = article.assets
    assert (wire.url, wire.caption, wire.credit) == ("https://img.example/l.jpg", "Negotiators arrive in Cairo", "AFP")
    assert (staff.url, staff.credit) == ("https://img.example/o.jpg", "MEE/Staff")


def test_ninjs_wire_copy_and_withheld_items_are_not_licensable() -> None:
    base = {"uri": "urn:x:1", "headlines": [{"value": "H"}], "bodies": [{"value": "<p>Text.</p>", "contentType": "text/html"}]}
    [wire] = parse_document(json.dumps({**base, "copyrightHolder": "Reuters"}), canonical_url="https://example.com/a")
    [withheld] = parse_document(json.dumps({**base, "pubStatus": "withheld"}), canonical_url="https://example.com/a")
    assert wire.licensable is False and withheld.licensable is False


def test_ninjs_future_embargo_becomes_an_embargoed_article() -> None:
    item = {"uri": "https://example.com/e", "headlines": [{"value": "Embargoed"}], "embargoedUntil": "2999-01-01T00:00:00Z",
            "bodies": [{"value": "Text."}]}
    [article] = parse_document(json.dumps(item))
    assert article.status == "embargoed" and article.embargo_until.year == 2999


def test_ninjs_without_headline_or_body_names_the_problem() -> None:
    with pytest.raises(MissingHeadline, match="headlines"):
        parse_document(json.dumps({"uri": "https://example.com/1", "bodies": [{"value": "Text"}]}))
    with pytest.raises(EmptyArticleBody, match="bodies"):
        parse_document(json.dumps({"uri": "https://example.com/1", "headlines": [{"value": "H"}]}))


# --- our own JSON ----------------------------------------------------------------------------


def _own(n: int = 1) -> dict:
    return {"external_id": f"cms-{n}", "headline": f"Headline {n}", "body_html": "<p>Body.</p>",
            "canonical_url": f"https://www.middleeasteye.net/news/{n}", "tags": ["Syria"]}


def test_own_json_single_object_and_list() -> None:
    [one] = parse_document(json.dumps(_own()))
    assert one.external_id == "cms-1" and one.headline == "Headline 1"
    many = parse_document(json.dumps([_own(1), _own(2)]).encode(), source="batch.json")
    assert [a.external_id for a in many] == ["cms-1", "cms-2"]


def test_own_json_missing_headline_in_a_list_names_the_article() -> None:
    second = _own(2)
    del second["headline"]
    with pytest.raises(MissingHeadline) as caught:
        parse_document(json.dumps([_own(1), second]), source="batch.json")
    assert caught.value.detail.startswith("batch.json: article 2: ")
    assert caught.value.extra["errors"][0]["field"] == "headline"


def test_own_json_unknown_field_is_invalid_article() -> None:
    with pytest.raises(InvalidArticle, match="colour"):
        parse_document(json.dumps({**_own(), "colour": "red"}))


# --- bad input -------------------------------------------------------------------------------


def test_malformed_json_says_line_and_column() -> None:
    with pytest.raises(MalformedJson) as caught:
        parse_document(b'{\n  "headline": "x",\n  "body_html": oops\n}', source="bad.json")
    assert "line 3, column 16" in caught.value.detail and caught.value.detail.startswith("bad.json: ")
    assert (caught.value.extra["line"], caught.value.extra["column"]) == (3, 16)


@pytest.mark.parametrize("fmt", ["text", "html", "json", "auto"])
def test_empty_documents_are_empty_document(fmt: str) -> None:
    with pytest.raises(EmptyDocument):
        parse_document(b"  \n\n ", format=fmt, canonical_template=TEMPLATE)


def test_page_of_furniture_only_is_empty_document() -> None:
    with pytest.raises(EmptyDocument, match="furniture"):
        parse_document("Skip to main content\n\nRead More »\n", format="text", canonical_template=TEMPLATE)


def test_headline_without_body_is_empty_body() -> None:
    with pytest.raises(EmptyArticleBody):
        parse_document("Just a headline\n", format="text", canonical_template=TEMPLATE)
    with pytest.raises(EmptyArticleBody):
        parse_document("<html><body><article><h1>Only a headline</h1></article></body></html>", canonical_template=TEMPLATE)


def test_unknown_format_and_media_type() -> None:
    with pytest.raises(UnknownImportFormat, match="json, ninjs, html, text"):
        parse_document(b"{}", format="docx")
    with pytest.raises(UnsupportedImportMediaType, match="text/html"):
        format_for_media_type("application/pdf")
    with pytest.raises(UndecodableDocument):
        parse_document(b"\xff\xfe\x00bad", format="text")


def test_format_detection() -> None:
    assert detect_format("{}", source="a.txt") == ImportFormat.text  # the extension wins
    assert detect_format("<p>x</p>", source="a.html") == ImportFormat.html
    assert detect_format("  [1]") == ImportFormat.json
    assert detect_format("<!DOCTYPE html><html>") == ImportFormat.html
    assert detect_format("Headline\n\nBody.") == ImportFormat.text
    assert format_for_media_type("text/plain; charset=utf-8") == ImportFormat.text
    assert format_for_media_type("application/json") == ImportFormat.auto


def test_caption_detection() -> None:
    assert split_caption(f"{CAPTION} (Reuters)") == (CAPTION, "Reuters")
    assert split_caption("Protesters gather in the square. Photo: Jane Doe") == ("Protesters gather in the square", "Jane Doe")
    assert split_caption("Some 5,200 US soldiers support the Islamic State (IS) group.") is None
    assert split_caption(TEASER_HEADLINES[0]) is None


def test_json_ld_image_with_agency_credit_becomes_an_asset() -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Talks resume in Cairo",
          "url": "https://www.middleeasteye.net/news/talks",
          "image": [{"@type": "ImageObject", "url": "https://img.example/c.jpg", "caption": "Delegates arrive",
                     "creditText": "AFP"}, "https://img.example/uncredited.jpg"]}
    page = (f'<html><head><script type="application/ld+json">{json.dumps(ld)}</script></head>'
            "<body><main><p>Negotiators met on Monday.</p><p>They will meet again.</p></main></body></html>")
    [article] = parse_document(page)
    assert article.headline == "Talks resume in Cairo" and str(article.canonical_url) == "https://www.middleeasteye.net/news/talks"
    assert [(a.url, a.caption, a.credit) for a in article.assets] == [("https://img.example/c.jpg", "Delegates arrive", "AFP")]
    assert _paragraphs(article.body_html) == ["Negotiators met on Monday.", "They will meet again."]


def test_overlong_headline_is_invalid_not_missing() -> None:
    with pytest.raises(InvalidArticle, match="headline"):
        parse_document(json.dumps({**_own(), "headline": "x" * 501}))
    with pytest.raises(MissingHeadline):
        parse_document(json.dumps({**_own(), "headline": None}))
    with pytest.raises(MissingHeadline):
        parse_document(json.dumps({**_own(), "headline": "   "}))


# --- furniture rules -------------------------------------------------------------------------

_BODY = ["The label's lawyers argued the songs were covered by a licence signed in 2001.",
         "The court was shown a 2019 letter stating that all rights reserved by the band had passed to the label.",
         "Copyright 2019 filings, the judge said, told a different story about who owned the recordings.",
         "The case continues next week in London, where the band is expected to give evidence in person."]


def test_a_body_paragraph_that_mentions_rights_does_not_end_the_article() -> None:
    page = "\n\n".join(["Band loses first round in rights case", "A short standfirst without a full stop", *_BODY])
    [article] = parse_document(page, format="text", canonical_url=CANONICAL)
    assert _paragraphs(article.body_html) == _BODY
    html_page = ("<html><body><article><h1>Band loses first round in rights case</h1>"
                 + "".join(f"<p>{p}</p>" for p in _BODY) + "</article></body></html>")
    [from_html] = parse_document(html_page, format="html", canonical_url=CANONICAL)
    assert _paragraphs(from_html.body_html) == _BODY


def test_the_footer_and_the_short_lines_after_it_still_go() -> None:
    page = "\n\n".join(["Band loses first round in rights case", *_BODY,
                        "Middle East Eye delivers independent and unrivalled coverage. To learn more about "
                        "republishing this content and the associated fees, please fill out this form.",
                        "About us", "Contact", "© 2024 Middle East Eye. All rights reserved."])
    [article] = parse_document(page, format="text", canonical_url=CANONICAL)
    assert _paragraphs(article.body_html) == _BODY
    assert "About us" not in article.body_html and "unrivalled" not in article.body_html and "©" not in article.body_html


def test_a_question_teaser_headline_goes_with_its_read_more_even_after_a_blank_line() -> None:
    teaser = "Is Russia preparing to leave Syria?"
    page = "\n\n".join(["Band loses first round in rights case", _BODY[0], _BODY[1], teaser, "Read More »", _BODY[3]])
    [article] = parse_document(page, format="text", canonical_url=CANONICAL)
    assert teaser not in article.body_html
    assert _paragraphs(article.body_html) == [_BODY[0], _BODY[1], _BODY[3]]
