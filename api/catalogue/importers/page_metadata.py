"""What an HTML page says about its article outside the article's text: JSON-LD (NewsArticle and
kin), OpenGraph/article: meta tags and <link rel=canonical>. The page importer (page.py) reads
the article's own markup and falls back on these."""

from __future__ import annotations

import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from api.catalogue.importers.common import squash

ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
                 "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting"}


def classification(tree: LexborHTMLParser, ld: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Section, tags, language and the CMS's own id, from the page's metadata."""
    fields: dict[str, Any] = {
        "section": squash(_first(ld.get("articleSection")) or meta.get("article:section")) or None,
        "tags": _tags(ld, meta),
        "language": _language(tree, ld, meta),
    }
    if isinstance(ld.get("identifier"), str | int):
        fields["external_id"] = str(ld["identifier"])
    return fields


def described(ld: dict[str, Any], meta: dict[str, Any]) -> str | None:
    """The metadata's description, when the page shows no standfirst."""
    return squash(ld.get("description")) or squash(meta.get("og:description")) or squash(meta.get("description")) or None


def _language(tree: LexborHTMLParser, ld: dict[str, Any], meta: dict[str, Any]) -> str:
    """JSON-LD's inLanguage, else <html lang>, else og:locale, else English."""
    html_node = tree.css_first("html")
    return squash(ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None) \
        or (html_node.attributes.get("lang") if html_node is not None else None) \
        or (meta.get("og:locale") or "").replace("_", "-") or "en"


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def strip_site_name(title: str | None) -> str:
    # "Headline | Middle East Eye" -> "Headline"
    return squash(re.split(r"\s+[|–—]\s+|\s+-\s+(?=[^-]+$)", title or "")[0])


def meta_tags(tree: LexborHTMLParser) -> dict[str, Any]:
    found: dict[str, Any] = {"article:tag": []}
    for node in tree.css("meta"):
        key = (node.attributes.get("property") or node.attributes.get("name") or "").strip().lower()
        value = node.attributes.get("content")
        if not key or value is None:
            continue
        if key == "article:tag":
            found[key].append(value)
        else:
            found.setdefault(key, value)
    return found


def link_canonical(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("link[rel=canonical]")
    return node.attributes.get("href") if node is not None else None


def json_ld_article(tree: LexborHTMLParser) -> dict[str, Any]:
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.text() or "null")
        except json.JSONDecodeError:
            continue  # a broken JSON-LD block is the page's problem, not the article's
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                types = item.get("@type") or []
                types = [types] if isinstance(types, str) else types
                if any(isinstance(t, str) and t.lower() in ARTICLE_TYPES for t in types):
                    return item
                stack.extend(item.get("@graph") or [])
    return {}


def ld_url(ld: dict[str, Any]) -> str | None:
    entity = ld.get("mainEntityOfPage")
    if isinstance(entity, dict):
        entity = entity.get("@id") or entity.get("url")
    url = ld.get("url") or entity
    return url if isinstance(url, str) else None


def _person_names(value: Any) -> list[str]:
    people = value if isinstance(value, list) else [value]
    names = [p.get("name") if isinstance(p, dict) else p for p in people]
    return [squash(n) for n in names if isinstance(n, str) and squash(n)]


def authors(ld: dict[str, Any]) -> list[str]:
    return _person_names(ld.get("author"))


def _tags(ld: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    keywords = ld.get("keywords") or meta.get("keywords") or []
    if isinstance(keywords, str):
        keywords = keywords.split(",")
    return [squash(k) for k in [*keywords, *meta["article:tag"]] if isinstance(k, str) and squash(k)]


def json_ld_images(ld: dict[str, Any]) -> list[dict[str, Any]]:
    images = ld.get("image")
    assets = []
    for image in images if isinstance(images, list) else [images] if images else []:
        if not isinstance(image, dict):
            continue  # a bare URL carries no credit: unknown rights, so it is not imported as an asset
        holders = _person_names(image.get("copyrightHolder")) + _person_names(image.get("author"))
        credit = image.get("creditText") or (holders[0] if holders else None)
        if not credit:
            continue
        url = image.get("url") or image.get("contentUrl")
        assets.append({"url": url if isinstance(url, str) else None, "caption": squash(image.get("caption")) or None,
                       "credit": squash(credit) or None})
    return assets
