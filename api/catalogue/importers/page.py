"""An article page, as plain text (a saved or copied page) or as HTML, to one ArticleCreate.

Both reduce the page to blocks, strip the furniture (see `furniture`), then read the article:

text page: the first line left is the headline; the next is the standfirst when it does not read
as a sentence (no closing punctuation) or a picture caption sits directly under it; caption lines
("... (Reuters)") become assets; short lines without closing punctuation are subheadings (<h2>);
everything else is a body paragraph.

HTML page: metadata from JSON-LD, OpenGraph/article: meta tags and <link rel=canonical> (see
`page_metadata`); the article is the <article> element (else <main>, else <body>); <figure>s
and other pictures (an <img> in a paragraph, with its caption) become assets; page chrome (nav, aside, footer, share/related/newsletter boxes, teaser boxes
ending in "Read More") is removed before the paragraphs are read with the text rules.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from api.catalogue.errors import EmptyArticleBody, EmptyDocument, InvalidArticle
from api.catalogue.importers import page_metadata as metadata
from api.catalogue.importers.common import build_article, parse_datetime, resolve_canonical_url, squash
from api.catalogue.importers.furniture import (
    READ_MORE, Block, ends_sentence, looks_like_heading, split_caption, strip_furniture,
)
from api.catalogue.inline_images import extract_images
from api.catalogue.schemas import ArticleCreate

# --- text pages -------------------------------------------------------------------------------


def text_blocks(text: str) -> list[Block]:
    blocks, gap = [], True
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        clean = squash(line)
        if not clean:
            gap = True
            continue
        blocks.append(Block(text=clean, adjacent=not gap))
        gap = False
    return blocks


def parse_text_page(text: str, *, canonical_url: str | None = None, canonical_template: str | None = None) -> ArticleCreate:
    if not text.strip():
        raise EmptyDocument("The page is empty; send the article page's text (headline first, then the paragraphs).")
    headline, standfirst, body, assets = _article_from_blocks(strip_furniture(text_blocks(text)))
    return build_article({
        "headline": headline, "standfirst": standfirst, "body_html": "".join(body), "assets": assets,
        "canonical_url": resolve_canonical_url(None, override=canonical_url, template=canonical_template, headline=headline),
    })


def _article_from_blocks(blocks: list[Block]) -> tuple[str, str | None, list[str], list[dict[str, Any]]]:
    """Headline, standfirst, body and caption assets of a page with no markup to go by."""
    if not blocks:
        raise EmptyDocument("The page holds nothing but page furniture (navigation, teasers, footer); no article found.")
    headline, rest = blocks[0].text, blocks[1:]
    standfirst = None
    if rest and split_caption(rest[0].text) is None:
        caption_below = len(rest) > 1 and rest[1].adjacent and split_caption(rest[1].text) is not None
        if not ends_sentence(rest[0].text) or caption_below:
            standfirst, rest = rest[0].text, rest[1:]
    body, assets = _read_body(rest)
    if not body:
        raise EmptyArticleBody(f"The page has a headline ({headline!r}) but no body paragraphs after it.")
    return headline, standfirst, body, assets


def _read_body(blocks: list[Block], *, skip: set[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    body: list[str] = []
    assets: list[dict[str, Any]] = []
    for block in blocks:
        if skip and block.text in skip:
            continue
        caption = split_caption(block.text) if block.tag == "p" else None
        if caption:
            # "<p><img src=...> Putin and Assad (Reuters)</p>": the picture goes with its caption.
            pictures = extract_images(block.html)[1] if block.html else []
            url = next((p["url"] for p in pictures if p["url"]), None)
            assets.append({"caption": caption[0], "credit": caption[1], **({"url": url} if url else {})})
        elif block.html is not None:
            body.append(block.html)
        elif body and looks_like_heading(block.text):
            body.append(f"<h2>{html_lib.escape(block.text, quote=False)}</h2>")
        else:
            body.append(f"<p>{html_lib.escape(block.text, quote=False)}</p>")
    return body, assets


# --- HTML pages -------------------------------------------------------------------------------

CHROME = "script, style, noscript, template, nav, aside, footer, form, iframe, button, svg, dialog, header nav"
CHROME_CLASS = re.compile(
    r"(^|[\s_-])(share|sharing|social|related|recommended|newsletter|promo|teaser|read-?more|advert|ads?|"
    r"subscribe|comments?|breadcrumbs?|skip|tags?|author-bio|outbrain|taboola|byline|dateline|article-meta|"
    r"timestamp)([\s_-]|$)", re.I
)
BLOCK_TAGS = "p, h2, h3, h4, h5, h6, blockquote, ul, ol, pre, table"
STANDFIRST_SELECTORS = (".standfirst", ".dek", ".summary", ".subtitle", ".sub-title", ".lede", ".article-summary",
                        "[itemprop=description]", ".field-name-field-summary")


def parse_html_page(markup: str, *, canonical_url: str | None = None, canonical_template: str | None = None) -> ArticleCreate:
    if not markup.strip():
        raise EmptyDocument("The page is empty; send the article page's HTML.")
    tree = LexborHTMLParser(markup)
    meta = metadata.meta_tags(tree)
    ld = metadata.json_ld_article(tree)
    container = _article_container(tree)
    if container is None or not squash(container.text(separator=" ")):
        raise EmptyDocument("The HTML page has no visible text; send the full article page.")

    headline = _headline(tree, container, ld, meta)
    byline, published = _byline(ld, meta, container), _published(ld, meta, container)
    _remove_chrome(container)
    assets = _figures(container) or metadata.json_ld_images(ld)
    container, pictures = _without_pictures(container)
    assets += pictures
    standfirst = _take_standfirst(container) or metadata.described(ld, meta)

    blocks = _body_blocks(container)
    if headline:
        body, caption_assets = _read_body(blocks, skip={headline, standfirst or ""})
        if not body:
            raise EmptyArticleBody(f"The page has a headline ({headline!r}) but no article paragraphs.")
    else:  # no <h1>, no metadata: the page is paragraphs only, read it the way a text page is read
        headline, standfirst, body, caption_assets = _article_from_blocks(blocks)

    found_url = metadata.link_canonical(tree) or meta.get("og:url") or metadata.ld_url(ld)
    fields: dict[str, Any] = {
        "headline": headline, "standfirst": standfirst, "body_html": "".join(body),
        "assets": assets + caption_assets,
        "canonical_url": resolve_canonical_url(found_url, override=canonical_url, template=canonical_template, headline=headline),
        "byline": byline, "authors": metadata.authors(ld) or ([byline] if byline else []), "published_at": published,
        **metadata.classification(tree, ld, meta),
    }
    return build_article(fields)


def _headline(tree: LexborHTMLParser, container: LexborNode, ld: dict[str, Any], meta: dict[str, Any]) -> str:
    """The article's <h1>, else the page's, else the metadata's title (without the site's name)."""
    h1 = container.css_first("h1") or tree.css_first("h1")
    return squash(h1.text(separator=" ") if h1 else None) or squash(ld.get("headline")) \
        or metadata.strip_site_name(meta.get("og:title")) or metadata.strip_site_name(_text(tree.css_first("title")))


def _take_standfirst(container: LexborNode) -> str | None:
    """The first standfirst-looking element's text; the element leaves the body."""
    for selector in STANDFIRST_SELECTORS:
        node = container.css_first(selector)
        text = squash(node.text(separator=" ")) if node is not None else ""
        if node is not None and text:
            _decompose([node])
            return text
    return None


def _body_blocks(container: LexborNode) -> list[Block]:
    """The body's paragraphs and other top-level blocks, less the site's furniture."""
    blocks = [Block(text=squash(n.text(separator=" ")), html=n.html, tag=n.tag or "p") for n in _top_blocks(container)]
    if not blocks:  # text straight in <div>s or <br>-separated: read it as a text page
        blocks = text_blocks(container.text(separator="\n"))
    return strip_furniture(blocks)


def _text(node: LexborNode | None) -> str:
    return squash(node.text(separator=" ")) if node is not None else ""


def _byline(ld: dict[str, Any], meta: dict[str, Any], container: LexborNode) -> str | None:
    names = metadata.authors(ld)
    if names:
        return " and ".join(names)
    node = container.css_first("[rel=author], .byline, [itemprop=author]")
    return squash(meta.get("author")) or _text(node) or None


def _published(ld: dict[str, Any], meta: dict[str, Any], container: LexborNode) -> datetime | None:
    node = container.css_first("time[datetime]")
    stated = ld.get("datePublished") or meta.get("article:published_time") or (
        node.attributes.get("datetime") if node is not None else None)
    try:
        return parse_datetime(stated, field="published date")
    except InvalidArticle:
        return None  # a page's broken date metadata is no reason to refuse its article; import time stands in


def _article_container(tree: LexborHTMLParser) -> LexborNode | None:
    articles = tree.css("article")
    if articles:
        # A page may hold teaser <article>s too: the real one has the most paragraph text.
        return max(articles, key=lambda a: sum(len(p.text()) for p in a.css("p")))
    return tree.css_first("main") or tree.css_first("[role=main]") or tree.body


def _remove_chrome(container: LexborNode) -> None:
    doomed = list(container.css(CHROME)) + list(container.css("h1"))
    for node in container.css("[class], [id]"):
        marker = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        if CHROME_CLASS.search(marker) and node.tag not in ("html", "body", "article", "main"):
            doomed.append(node)
    # A "Read More »" link inside a small box is a teaser: drop the box with its headline.
    for node in container.css("a, span, div, p, button, strong"):
        if not READ_MORE.match(squash(node.text(separator=" "))):
            continue
        target = node
        while (target.parent is not None and target.parent.tag not in ("article", "main", "body")
               and len(squash(target.parent.text(separator=" "))) < 300):
            target = target.parent
        if target.tag not in ("p", "h2", "h3", "h4", "h5", "h6", "li"):
            doomed.append(target)  # a bare "Read More" paragraph is left to strip_furniture, with its headline
    _decompose(doomed)


def _decompose(nodes: list[LexborNode]) -> None:
    """Remove nodes, outermost first: touching a node inside an already removed one would crash lexbor."""
    ids = {n.mem_id for n in nodes}
    outermost: dict[int, LexborNode] = {}
    for node in nodes:
        parent, inside = node.parent, False
        while parent is not None:
            if parent.mem_id in ids:
                inside = True
                break
            parent = parent.parent
        if not inside:
            outermost[node.mem_id] = node
    for node in outermost.values():
        node.decompose()


def _top_blocks(container: LexborNode) -> list[LexborNode]:
    """Block elements not nested in another block (a <p> inside a <blockquote> goes with it)."""
    nested_in = {"blockquote", "ul", "ol", "table", "figure", "pre"}
    blocks = []
    for node in container.css(BLOCK_TAGS):
        parent, nested = node.parent, False
        while parent is not None and parent.tag not in ("article", "main", "body"):
            if parent.tag in nested_in:
                nested = True
                break
            parent = parent.parent
        if not nested and squash(node.text(separator=" ")):
            blocks.append(node)
    return blocks


def _figures(container: LexborNode) -> list[dict[str, Any]]:
    assets = []
    for figure in container.css("figure"):
        img = figure.css_first("img")
        url = None
        if img is not None:
            url = img.attributes.get("src") or img.attributes.get("data-src")
        credit_node = figure.css_first(".credit, [itemprop=copyrightHolder], [class*=credit], [itemprop=creditText]")
        credit = _text(credit_node) or None
        caption_node = figure.css_first("figcaption")
        caption: str | None = _text(caption_node)
        if credit and caption and caption.endswith(credit):
            caption = caption[: -len(credit)].strip()
        caption = caption or (img.attributes.get("alt") if img is not None else None)
        if caption and not credit and (split := split_caption(caption)):
            caption, credit = split
        if url or caption:
            assets.append({"url": url if url and url.startswith("http") else None, "caption": squash(caption) or None,
                           "credit": squash(credit).strip("()") if credit else None})
    _decompose(list(container.css("figure")))
    return assets


def _without_pictures(container: LexborNode) -> tuple[LexborNode, list[dict[str, Any]]]:
    """Pictures outside <figure>s (an <img> in a paragraph, with its caption) become assets here,
    before the paragraphs are read: an image-only paragraph has no text to be read as a block."""
    markup, pictures = extract_images(container.html or "")
    if not pictures and markup == (container.html or ""):
        return container, []
    tree = LexborHTMLParser(f"<html><body>{markup}</body></html>")
    rebuilt = tree.body if container.tag == "body" else tree.css_first(container.tag or "body")
    return (rebuilt if rebuilt is not None else container), pictures


