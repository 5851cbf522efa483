"""Turn documents (our JSON, IPTC ninjs, an HTML or text article page) into ArticleCreate objects.

`parse_document` is the one entry point, used by the CLI and the staff import API. It only parses
and validates: writing is `service.import_articles`, in one transaction for the whole batch.

Format detection (`ImportFormat.auto`): an explicit format wins; otherwise the Content-Type
(`application/json`, `text/html`, `text/plain`), then the file extension (.json, .html/.htm,
.txt), then the content itself (JSON starts with `{` or `[`; HTML has tags such as <html>, <body>,
<article>, <p>; anything else is a text page). JSON that carries ninjs properties (`uri`,
`headlines`, `bodies`, `versionCreated`...) is read as ninjs, otherwise as our own shape.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import PurePath

from api.catalogue.errors import (
    EmptyDocument, InvalidArticle, MalformedJson, UndecodableDocument, UnknownImportFormat,
    UnsupportedImportMediaType, locate,
)
from api.catalogue.importers.ninjs import looks_like_ninjs, parse_ninjs
from api.catalogue.importers.own_json import parse_own_json
from api.catalogue.importers.page import parse_html_page, parse_text_page
from api.catalogue.schemas import ArticleCreate
from api.core.errors import SyndicateError

__all__ = ["ImportFormat", "detect_format", "format_for_media_type", "parse_document"]


class ImportFormat(StrEnum):
    auto = "auto"
    json = "json"      # our own ArticleCreate shape, one object or a list
    ninjs = "ninjs"    # IPTC ninjs 1.x-3.x, one item or a list
    html = "html"      # an article web page
    text = "text"      # an article page as plain text


_MEDIA_TYPES = {
    "application/json": ImportFormat.auto,  # ours or ninjs: told apart by content
    "application/ninjs+json": ImportFormat.ninjs,
    "text/html": ImportFormat.html,
    "application/xhtml+xml": ImportFormat.html,
    "text/plain": ImportFormat.text,
}
_EXTENSIONS = {".json": ImportFormat.auto, ".ninjs": ImportFormat.ninjs, ".html": ImportFormat.html,
               ".htm": ImportFormat.html, ".xhtml": ImportFormat.html, ".txt": ImportFormat.text,
               ".text": ImportFormat.text}
_HTML_HINT = re.compile(r"<(!doctype html|html|head|body|article|main|p|div|h1)[\s>]", re.I)


def format_for_media_type(content_type: str | None) -> ImportFormat:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _MEDIA_TYPES:
        return _MEDIA_TYPES[media_type]
    if media_type.endswith("+json"):
        return ImportFormat.auto
    raise UnsupportedImportMediaType(
        f"Content-Type {content_type or '(none)'!r} cannot be imported; send application/json (our shape or ninjs), "
        "text/html (an article page) or text/plain (a page's text)."
    )


def detect_format(text: str, *, source: str | None = None) -> ImportFormat:
    """Pick json, ninjs, html or text for a document whose format was not given."""
    by_extension = _EXTENSIONS.get(PurePath(source).suffix.lower()) if source else None
    if by_extension and by_extension is not ImportFormat.auto:
        return by_extension
    head = text.lstrip()[:2000]
    if by_extension is ImportFormat.auto or head[:1] in ("{", "["):
        return ImportFormat.json
    if _HTML_HINT.search(head):
        return ImportFormat.html
    return ImportFormat.text


def decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UndecodableDocument(
            f"Byte {exc.start} is not valid UTF-8; save the document as UTF-8 and import it again."
        ) from exc


def _load_json(text: str) -> object:
    if not text.strip():
        raise EmptyDocument("The JSON document is empty; send an article object or a list of them.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                            line=exc.lineno, column=exc.colno) from exc


def parse_document(
    raw: bytes | str, *, format: ImportFormat | str = ImportFormat.auto, source: str | None = None,
    canonical_url: str | None = None, canonical_template: str | None = None,
) -> list[ArticleCreate]:
    """Parse one document into articles, or raise a catalogue problem naming `source`.

    `canonical_url` pins the article's URL (one-article documents only); `canonical_template` (the
    publisher's URL pattern with `{slug}`) lets a page without a stated URL get one derived from its
    headline (see common.resolve_canonical_url).
    """
    try:
        return _parse(raw, format=format, source=source, canonical_url=canonical_url, canonical_template=canonical_template)
    except SyndicateError as exc:
        if source:
            locate(exc, source)
            exc.extra.setdefault("source", source)
        raise


def _parse(raw: bytes | str, *, format: ImportFormat | str, source: str | None, canonical_url: str | None,
           canonical_template: str | None) -> list[ArticleCreate]:
    try:
        chosen = ImportFormat(format)
    except ValueError as exc:
        raise UnknownImportFormat(
            f"Unknown format {format!r}; use one of: {', '.join(f.value for f in ImportFormat)}."
        ) from exc
    text = decode(raw)
    detected = chosen is ImportFormat.auto
    if detected:
        chosen = detect_format(text, source=source)
    if chosen is ImportFormat.text:
        return [parse_text_page(text, canonical_url=canonical_url, canonical_template=canonical_template)]
    if chosen is ImportFormat.html:
        return [parse_html_page(text, canonical_url=canonical_url, canonical_template=canonical_template)]
    document = _load_json(text)
    if canonical_url and isinstance(document, list) and len(document) != 1:
        raise InvalidArticle(f"canonical_url names one article, but the document holds {len(document)}; "
                             "leave it out and give each article its own URL.")
    if chosen is ImportFormat.ninjs or (detected and looks_like_ninjs(document)):
        return parse_ninjs(document, canonical_url=canonical_url, canonical_template=canonical_template)
    return parse_own_json(document, canonical_url=canonical_url)
