"""The licensed renditions of an article: JSON, IPTC ninjs and an embeddable HTML fragment.

The licence-independent part of each rendition is built once per (article, version); the
licence-specific attribution is merged in once per (licence, article, version, format) and the
resulting bytes are cached by the caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime
from html import escape
from typing import Any

from api.catalogue.licensed import licensed_body
from api.delivery.snapshots import ArticleView, LicenceView

FORMATS = {
    "json": "application/json",
    "ninjs": "application/vnd.iptc.ninjs+json",
    "html": "text/html; charset=utf-8",
}
NINJS_SCHEMA = "https://www.iptc.org/std/ninjs/ninjs-schema_3.1.json"


@dataclass(frozen=True, slots=True)
class Publisher:
    name: str
    copyright_holder: str
    base_url: str
    secret: bytes


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    canonical_url: str
    ok_headers: tuple[tuple[bytes, bytes], ...] = ()  # the full header list of a 200, built once

    def headers(self, *, with_body: bool) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"etag", self.etag.encode()), (b"last-modified", self.last_modified.encode()),
            (b"cache-control", b"private, no-cache"), (b"vary", b"Accept, Authorization"),
        ]
        if self.canonical_url:
            headers.append((b"link", f'<{self.canonical_url}>; rel="canonical"'.encode()))
        if with_body:
            headers += [(b"content-type", self.content_type.encode()), (b"content-length", str(len(self.body)).encode())]
        return headers


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def http_date(value: datetime) -> str:
    return format_datetime(value.replace(microsecond=0), usegmt=True)


# --- usage beacons: a signed path, so nobody can record sightings for another licence -------------

def beacon_signature(publisher: Publisher, licence_id: str, article_id: str) -> str:
    mac = hmac.new(publisher.secret, f"beacon:{licence_id}:{article_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def beacon_url(publisher: Publisher, licence_id: str, article_id: str) -> str:
    signed = f"{licence_id}.{article_id}.{beacon_signature(publisher, licence_id, article_id)}"
    return f"{publisher.base_url}/v1/content/beacon/{signed}.gif"


def parse_beacon(publisher: Publisher, signed: str) -> tuple[str, str] | None:
    parts = signed.removesuffix(".gif").split(".")
    if len(parts) != 3:
        return None
    licence_id, article_id, signature = parts
    expected = beacon_signature(publisher, licence_id, article_id)
    return (licence_id, article_id) if hmac.compare_digest(expected, signature) else None


# --- the licence-independent part ------------------------------------------------------------------

def licence_terms(licence: LicenceView) -> dict[str, Any]:
    """The `licence` object of the attribution: all of it that depends on the licence but not on the article."""
    return {"id": licence.id, "use": licence.use, "scope": licence.scope, "territories": list(licence.territories),
            "language": licence.language, "starts_at": _iso(licence.starts_at), "ends_at": _iso(licence.ends_at),
            "conditions": list(licence.conditions), "terms": licence.terms_text()}


def attribution(publisher: Publisher, licence: LicenceView, article: ArticleView) -> dict[str, Any]:
    return attribution_for(publisher, article, licence_id=licence.id, terms=licence_terms(licence),
                           signature=beacon_signature(publisher, licence.id, article.id))


def attribution_for(publisher: Publisher, article: ArticleView, *, licence_id: str, terms: Any,
                    signature: str) -> dict[str, Any]:
    """The attribution from its licence-specific parts (templates.py passes placeholders for them)."""
    year = article.published_at.year
    byline = article.byline or ", ".join(article.authors) or None
    credit = f"{'By ' + byline + ', ' if byline else ''}{publisher.name}. Republished under licence {licence_id}."
    notice = f"© {year} {publisher.copyright_holder}. All rights reserved."
    beacon = f"{publisher.base_url}/v1/content/beacon/{licence_id}.{article.id}.{signature}.gif"
    licence_url = f"{publisher.base_url}/v1/licences/{licence_id}"
    json_ld = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": article.headline,
        "author": [{"@type": "Person", "name": a} for a in article.authors] or None,
        "datePublished": _iso(article.published_at), "dateModified": _iso(article.updated_at),
        "inLanguage": article.language, "isBasedOn": article.canonical_url,
        "copyrightHolder": {"@type": "Organization", "name": publisher.copyright_holder},
        "copyrightYear": year, "publisher": {"@type": "Organization", "name": publisher.name},
        "license": licence_url,
    }
    json_ld = {k: v for k, v in json_ld.items() if v is not None}
    ld_text = json.dumps(json_ld, ensure_ascii=False).replace("</", "<\\/")
    url = escape(article.canonical_url, quote=True)
    html = (
        f'<link rel="canonical" href="{url}">\n'
        f'<p class="syndicate-attribution">This article was originally published by '
        f'<a href="{url}" rel="canonical">{escape(publisher.name)}</a>'
        f'{" (" + escape(byline) + ")" if byline else ""}. {escape(notice)} '
        f'Republished under licence <a href="{escape(licence_url, quote=True)}" rel="license">{escape(licence_id)}</a>.'
        f'<img src="{escape(beacon, quote=True)}" width="1" height="1" alt="" '
        f'referrerpolicy="no-referrer-when-downgrade" style="border:0"></p>\n'
        f'<script type="application/ld+json">{ld_text}</script>'
    )
    return {
        "credit_line": credit, "canonical_url": article.canonical_url, "copyright_notice": notice, "byline": byline,
        "publisher": publisher.name, "copyright_holder": publisher.copyright_holder,
        "licence": terms,
        "html": html, "json_ld": json_ld, "beacon_url": beacon,
    }


def base_json(article: ArticleView) -> dict[str, Any]:
    """The licence-independent part, from the licensed body (see licensed.py): the body HTML and
    text, word count and assets all come from it, never from the article as stored."""
    body = licensed_body(body_html=article.body_html, body_text=article.body_text, words=article.word_count,
                         canonical_url=article.canonical_url, assets=article.assets,
                         already_licensed=article.body_is_licensed)
    return {
        "id": article.id, "version": article.version, "headline": article.headline, "standfirst": article.standfirst,
        "byline": article.byline, "authors": list(article.authors), "section": article.section, "tags": list(article.tags),
        "language": article.language, "published_at": _iso(article.published_at), "updated_at": _iso(article.updated_at),
        "canonical_url": article.canonical_url, "body_html": body.html, "body_text": body.text,
        "word_count": body.word_count, "correction_note": article.correction_note,
        "assets": [{"position": a.position, "kind": a.kind, "url": a.url, "caption": a.caption, "credit": a.credit}
                   for a in body.assets],
        "removed_assets": body.removed,
    }


# --- licence-specific renditions -------------------------------------------------------------------

def render_json(base: dict[str, Any], attr: dict[str, Any]) -> bytes:
    return json.dumps({**base, "attribution": attr}, ensure_ascii=False, separators=(",", ":")).encode()


def render_ninjs(base: dict[str, Any], attr: dict[str, Any], article: ArticleView) -> bytes:
    lic = attr["licence"]
    removed = base["removed_assets"]
    doc: dict[str, Any] = {
        "uri": article.canonical_url, "type": "text", "representationType": "full", "profile": "syndicate-licensed",
        "version": str(article.version), "firstCreated": base["published_at"], "versionCreated": base["updated_at"],
        "pubStatus": "usable", "language": article.language,
        "copyrightHolder": attr["copyright_holder"], "copyrightNotice": attr["copyright_notice"],
        "usageTerms": lic["terms"], "rightsInfo": {"linkedRights": f"{attr['json_ld']['license']}"},
        "headlines": [{"role": "main", "value": article.headline}],
        "bodies": [
            {"role": "main", "contentType": "text/html", "value": base["body_html"], "wordCount": base["word_count"]},
            {"role": "main", "contentType": "text/plain", "value": base["body_text"], "wordCount": base["word_count"]},
            {"role": "attribution", "contentType": "text/html", "value": attr["html"]},
        ],
        "altIds": [{"role": "syndicate-id", "value": article.id}, {"role": "licence", "value": lic["id"]}],
        "infoSources": [{"name": attr["publisher"], "role": "originator", "uri": article.canonical_url}],
        "subjects": [{"name": t, "rel": "about"} for t in article.tags],
        "renditions": [{"name": "usage-beacon", "href": attr["beacon_url"], "contentType": "image/gif",
                        "width": 1, "height": 1}],
        "associations": [
            {"name": f"picture{a['position']}", "uri": a["url"], "type": "picture",
             **({"headlines": [{"value": a["caption"]}]} if a["caption"] else {}),
             **({"by": a["credit"]} if a["credit"] else {})}
            for a in base["assets"] if a["url"]
        ],
        "standard": {"name": "ninjs", "version": "3.1", "schema": NINJS_SCHEMA},
    }
    if article.standfirst:
        doc["descriptions"] = [{"role": "summary", "value": article.standfirst}]
    if attr["byline"]:
        doc["by"] = attr["byline"]
    if removed:
        doc["edNote"] = "Removed from this licensed copy: " + "; ".join(r["reason"] for r in removed)
    if not doc["associations"]:
        del doc["associations"]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def render_html(base: dict[str, Any], attr: dict[str, Any], article: ArticleView) -> bytes:
    # Why a picture was removed is a note for the partner (in the JSON's `removed_assets` and ninjs's
    # `edNote`), never a line for its readers.
    figures = "".join(
        f'<figure><img src="{escape(a["url"], quote=True)}" alt="{escape(a["caption"] or "", quote=True)}">'
        f'<figcaption>{escape(a["caption"] or "")}{" — " + escape(a["credit"]) if a["credit"] else ""}</figcaption></figure>'
        for a in base["assets"] if a["url"]
    )
    html = (
        f'<article class="syndicate-article" lang="{escape(article.language, quote=True)}" '
        f'data-article-id="{article.id}" data-version="{article.version}" data-licence-id="{attr["licence"]["id"]}">\n'
        f'<h1>{escape(article.headline)}</h1>\n'
        + (f'<p class="standfirst">{escape(article.standfirst)}</p>\n' if article.standfirst else "")
        + (f'<p class="byline">{escape(attr["byline"])}</p>\n' if attr["byline"] else "")
        + f"{figures}{base['body_html']}\n{attr['html']}\n</article>\n"
    )
    return html.encode()


def render_body(fmt: str, base: dict[str, Any], attr: dict[str, Any], article: ArticleView) -> bytes:
    if fmt == "ninjs":
        return render_ninjs(base, attr, article)
    if fmt == "html":
        return render_html(base, attr, article)
    return render_json(base, attr)


def render(publisher: Publisher, licence: LicenceView, article: ArticleView, fmt: str, base: dict[str, Any]) -> Rendered:
    """One rendition from scratch: what templates.py splices, byte for byte (the reference for its tests)."""
    body = render_body(fmt, base, attribution(publisher, licence, article), article)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    rendered = Rendered(body=body, content_type=FORMATS[fmt], etag=etag, last_modified=http_date(article.updated_at),
                        canonical_url=article.canonical_url)
    return replace(rendered, ok_headers=tuple(rendered.headers(with_body=True)))
