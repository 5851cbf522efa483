"""Renditions spliced from one template per (article, version, format).

Only a few values in a rendition depend on the licence: its id, the beacon's signature, the
`licence` object of the attribution (JSON) and its terms (ninjs); everything else (the licensed
body, which pictures it keeps, the JSON-LD, the markup) is the article's. So the article's part is
rendered once, by the same code as `render.render`, with unguessable placeholders in those places,
and a request only fills the holes: one `bytes % dict`, a small HMAC and a small hash, instead of a
JSON encoding of ~15 kB and an HTML parse on every (licence, article) pair it has not seen.

The bytes are exactly those of `render.render` (tests/delivery/test_templates.py holds them to it).
The ETag differs in how it is computed, not in what it promises: a hash of the template and of the
licence's values, which determine the body, instead of a hash of the whole body; it is the same in
every process.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from api.delivery import render
from api.delivery.snapshots import ArticleView, LicenceView

# A licence id made of these characters reads the same escaped for HTML, for an HTML attribute and
# inside a JSON string, so it can go into the holes as it is; any other id is rendered from scratch.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Placeholders:
    nonce: str
    id: str
    signature: str
    terms_doc: str
    terms_text: str

    @classmethod
    def of(cls, nonce: str) -> Placeholders:
        return cls(nonce, *(f"syn{nonce}{name}" for name in ("id", "sig", "doc", "terms")))

    @property
    def stem(self) -> bytes:
        """What is left of any placeholder however it was escaped."""
        return f"syn{self.nonce[:8]}".encode()

    def holes(self) -> tuple[tuple[bytes, bytes], ...]:
        """Placeholder -> hole, in the order they are replaced: the JSON values with their quotes first."""
        return ((json.dumps(self.terms_doc).encode(), b"%(doc)s"), (json.dumps(self.terms_text).encode(), b"%(terms)s"),
                (self.signature.encode(), b"%(sig)s"), (self.id.encode(), b"%(id)s"))


# 64 random bits per process that never leave it (every hole is filled before a byte goes out), so
# no stored article can hold a placeholder, by accident or on purpose.
PLACEHOLDERS = Placeholders.of(secrets.token_hex(8))


@dataclass(frozen=True, slots=True)
class Template:
    article_id: str
    body: bytes  # `%`-format bytes with %(id)s, %(sig)s, %(doc)s and %(terms)s holes
    digest: bytes  # of `body`: the same in every process
    content_type: str
    last_modified: str
    canonical_url: str
    fixed_headers: tuple[tuple[bytes, bytes], ...]  # a 200's headers between the ETag and the length


@dataclass(frozen=True, slots=True)
class LicenceParts:
    """What a licence puts into the holes, encoded once per licence view."""
    licence: LicenceView
    id: bytes
    doc: bytes  # the attribution's `licence` object, as JSON
    terms: bytes  # its terms, as a JSON string


def build(publisher: render.Publisher, article: ArticleView, fmt: str, base: dict[str, Any]) -> Template | None:
    """The template of `article` in `fmt`, or None when a placeholder does not survive as itself
    (then every licence gets `render.render`)."""
    # The `licence` object is encoded whole in JSON; ninjs and HTML read only its id and terms.
    marks = PLACEHOLDERS
    terms: Any = marks.terms_doc if fmt == "json" else {"id": marks.id, "terms": marks.terms_text}
    attr = render.attribution_for(publisher, article, licence_id=marks.id, terms=terms, signature=marks.signature)
    body = render.render_body(fmt, base, attr, article).replace(b"%", b"%%")
    for placeholder, hole in marks.holes():
        body = body.replace(placeholder, hole)
    if marks.stem in body:  # a placeholder escaped or cut: not where it can be filled
        return None
    shape = render.Rendered(b"", render.FORMATS[fmt], "", render.http_date(article.updated_at), article.canonical_url)
    return Template(article_id=article.id, body=body, digest=hashlib.blake2b(body, digest_size=16).digest(),
                    content_type=shape.content_type, last_modified=shape.last_modified,
                    canonical_url=shape.canonical_url, fixed_headers=tuple(shape.headers(with_body=True)[1:-1]))


def licence_parts(licence: LicenceView) -> LicenceParts | None:
    """None for a licence whose id would need escaping (see _PLAIN_ID)."""
    if not _PLAIN_ID.fullmatch(licence.id):
        return None
    terms = render.licence_terms(licence)
    return LicenceParts(
        licence=licence, id=licence.id.encode(),
        doc=json.dumps(terms, ensure_ascii=False, separators=(",", ":")).encode(),
        terms=json.dumps(terms["terms"], ensure_ascii=False).encode())


def splice(publisher: render.Publisher, template: Template, parts: LicenceParts) -> render.Rendered:
    signature = render.beacon_signature(publisher, parts.licence.id, template.article_id).encode()
    body = template.body % {b"id": parts.id, b"sig": signature, b"doc": parts.doc, b"terms": parts.terms}
    mac = hashlib.blake2b(template.digest, digest_size=12)
    for value in (parts.id, signature, parts.doc):  # the terms are inside the doc
        mac.update(len(value).to_bytes(4, "big"))
        mac.update(value)
    etag = '"' + mac.hexdigest() + '"'
    headers = ((b"etag", etag.encode()), *template.fixed_headers, (b"content-length", str(len(body)).encode()))
    return render.Rendered(body=body, content_type=template.content_type, etag=etag,
                           last_modified=template.last_modified, canonical_url=template.canonical_url,
                           ok_headers=headers)
