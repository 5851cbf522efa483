"""IPTC ninjs (News in JSON), versions 1.x, 2.x and 3.x, to ArticleCreate.

2.x spells properties in lower case (`versioncreated`), 3.x in camelCase (`versionCreated`), 1.x has
single `headline`/`body_html` strings: keys are lower-cased first so one reader serves all three.

Mapping: uri -> external_id (and canonical URL when it is http(s) and no better one is given);
headlines (role main) -> headline, (role sub/standfirst) or descriptions -> standfirst; bodies
(HTML preferred, else plain text split on blank lines) -> body_html; by -> byline; people with
rel author/creator -> authors; firstcreated (else versioncreated) -> published_at;
embargoed/embargoedUntil -> embargo; subjects and keywords -> tags; pubStatus other than usable ->
not licensable; a copyright holder that is a wire agency -> not licensable; picture and graphic
associations -> assets (best rendition href, description/headline as caption, copyright holder or
by as credit).
"""

from __future__ import annotations

from typing import Any

from api.catalogue.errors import EmptyArticleBody, InvalidArticle, MissingHeadline
from api.catalogue.importers.common import (
    build_article, is_http_url, parse_datetime, resolve_canonical_url, squash, text_to_paragraphs,
)
from api.catalogue.schemas import ArticleCreate
from api.catalogue.text import is_agency_credit
from api.core.db import utcnow

NINJS_MARKERS = ("uri", "headlines", "bodies", "versioncreated", "firstcreated", "body_html", "body_text", "renditions")


def looks_like_ninjs(document: Any) -> bool:
    first = document[0] if isinstance(document, list) and document else document
    return isinstance(first, dict) and any(k.lower() in NINJS_MARKERS for k in first) and "canonical_url" not in first


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _pick(items: Any, roles: tuple[str, ...], *, default_first: bool = True) -> dict | None:
    if not isinstance(items, list):
        return None
    entries = [i for i in items if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()]
    for role in roles:
        for entry in entries:
            if (entry.get("role") or "").lower() == role:
                return entry
    if default_first:
        unlabelled = [e for e in entries if not e.get("role")]
        candidates = unlabelled or entries
        return candidates[0] if candidates else None
    return None


def _is_html(content_type: str | None) -> bool:
    return any(word in (content_type or "").lower() for word in ("html", "xhtml", "xml"))


def _body(item: dict) -> str:
    bodies = [b for b in item.get("bodies") or [] if isinstance(b, dict) and isinstance(b.get("value"), str)]
    rich = [b for b in bodies if _is_html(b.get("contenttype"))]
    if rich:
        return (_pick(rich, ("main", "richtext")) or rich[0])["value"]
    if bodies:
        chosen = _pick(bodies, ("main",)) or bodies[0]
        return text_to_paragraphs(chosen["value"])
    if isinstance(item.get("body_html"), str):
        return item["body_html"]
    if isinstance(item.get("body_text"), str):
        return text_to_paragraphs(item["body_text"])
    return ""


def _names(entries: Any) -> list[str]:
    names = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            name = entry.get("name") or entry.get("literal")
            if isinstance(name, str) and name.strip():
                names.append(name.strip())
        elif isinstance(entry, str) and entry.strip():
            names.append(entry.strip())
    return names


def _best_rendition(renditions: Any) -> str | None:
    if isinstance(renditions, dict):  # ninjs 1.x: {"baseImage": {...}, "thumbnail": {...}}
        renditions = [{"name": k, **v} for k, v in renditions.items() if isinstance(v, dict)]
    candidates = [r for r in renditions or [] if isinstance(r, dict) and is_http_url(r.get("href"))]
    if not candidates:
        return None
    for preferred in ("original", "baseimage", "base", "large"):
        for r in candidates:
            if str(r.get("name", "")).lower() == preferred:
                return r["href"]
    return max(candidates, key=lambda r: (r.get("width") or 0) * (r.get("height") or 0))["href"]


def _assets(item: dict) -> list[dict[str, Any]]:
    associations = item.get("associations") or []
    if isinstance(associations, dict):  # ninjs 1.x keys associations by name
        associations = [{"name": k, **v} for k, v in associations.items() if isinstance(v, dict)]
    assets = []
    for assoc in associations:
        if not isinstance(assoc, dict) or assoc.get("type") not in ("picture", "graphic", None):
            continue
        url = _best_rendition(assoc.get("renditions"))
        if assoc.get("type") is None and url is None:
            continue  # an untyped association without an image is a related article, not an asset
        description = _pick(assoc.get("descriptions"), ("caption", "summary"))
        headline = _pick(assoc.get("headlines"), ("main",))
        caption = squash((description or headline or {}).get("value") or assoc.get("description_text")
                         or assoc.get("headline") or "") or None
        credit = assoc.get("copyrightholder") or assoc.get("by") or assoc.get("byline") or assoc.get("creditline")
        assets.append({"kind": "image" if assoc.get("type") != "graphic" else "graphic", "url": url,
                       "caption": caption[:2000] if caption else None, "credit": squash(credit)[:300] or None})
    return assets


def parse_ninjs(document: Any, *, canonical_url: str | None = None, canonical_template: str | None = None) -> list[ArticleCreate]:
    items = document if isinstance(document, list) else [document]
    return [_parse_item(item, where=f"ninjs item {n + 1}" if isinstance(document, list) else "ninjs",
                        canonical_url=canonical_url, canonical_template=canonical_template)
            for n, item in enumerate(items)]


def _parse_item(raw: Any, *, where: str, canonical_url: str | None, canonical_template: str | None) -> ArticleCreate:
    if not isinstance(raw, dict):
        raise InvalidArticle(f"{where}: expected a ninjs object, got {type(raw).__name__}.")
    item = _lower_keys(raw)
    uri = item.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArticle(f"{where}: `uri` is required by ninjs and identifies the article on re-import.")
    headline_entry = _pick(item.get("headlines"), ("main", "default"))
    headline = squash(headline_entry["value"] if headline_entry else item.get("headline") or item.get("title"))
    if not headline:
        raise MissingHeadline(f"{where}: no headline; add `headlines: [{{\"role\": \"main\", \"value\": ...}}]`.")
    body_html = _body(item)
    if not squash(body_html):
        raise EmptyArticleBody(f"{where}: no body; add `bodies` with an HTML or plain-text value.")
    sub = _pick(item.get("headlines"), ("sub", "subheadline", "standfirst", "summary"), default_first=False)
    description = _pick(item.get("descriptions"), ("summary", "standfirst", "abstract", "lead", "description"))
    standfirst = squash((sub or description or {}).get("value") or item.get("description_text")) or None

    byline = squash(item.get("by") or item.get("byline")) or None
    authors = [p["name"] for p in item.get("people") or []
               if isinstance(p, dict) and str(p.get("rel", "")).lower() in ("author", "creator") and p.get("name")]
    if not authors and byline:
        authors = [byline]
    tags = _names(item.get("subjects") or item.get("subject")) + _names(item.get("keywords"))
    licensable = str(item.get("pubstatus") or "usable").lower() == "usable"
    copyright_holder = item.get("copyrightholder") or item.get("copyrightnotice")
    if is_agency_credit(copyright_holder if isinstance(copyright_holder, str) else None):
        licensable = False
    embargo = parse_datetime(item.get("embargoeduntil") or item.get("embargoed"), field=f"{where}: embargoed")
    stated_url = next((a.get("value") for a in item.get("altids") or []
                       if isinstance(a, dict) and str(a.get("role", "")).lower() in ("canonical", "url", "web")), None)
    url = resolve_canonical_url(stated_url if is_http_url(stated_url) else uri, override=canonical_url,
                                template=canonical_template, headline=headline)
    published = (parse_datetime(item.get("firstcreated") or item.get("contentcreated"), field=f"{where}: firstCreated")
                 or parse_datetime(item.get("versioncreated"), field=f"{where}: versionCreated"))
    fields: dict[str, Any] = {
        "external_id": uri.strip()[:500], "headline": headline[:500], "standfirst": standfirst[:2000] if standfirst else None,
        "body_html": body_html, "byline": byline[:500] if byline else None, "authors": authors, "canonical_url": url,
        "tags": tags, "language": item.get("language") or "en", "published_at": published, "licensable": licensable,
        "assets": _assets(item),
    }
    if embargo and embargo > utcnow():
        fields.update(status="embargoed", embargo_until=embargo)
    return build_article(fields, where=where)
