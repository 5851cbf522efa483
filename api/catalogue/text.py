"""HTML sanitising, plain-text extraction, slugs and credit rules for catalogue content."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

import nh3
from selectolax.lexbor import LexborHTMLParser as HTMLParser

ALLOWED_TAGS = {
    "p", "br", "a", "em", "strong", "b", "i", "u", "blockquote", "q", "cite", "h2", "h3", "h4",
    "ul", "ol", "li", "figure", "figcaption", "img", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}

# Credits that belong to wire services and picture agencies: not the publisher's to relicense.
AGENCY_CREDITS = (
    "reuters", "afp", "agence france-presse", "ap", "associated press", "getty", "getty images", "epa",
    "epa-efe", "efe", "anadolu", "anadolu agency", "dpa", "xinhua", "ansa", "shutterstock", "alamy", "pa images",
    "pa media", "bloomberg", "sipa", "abaca", "zuma", "nurphoto", "upi", "wana", "sana", "tass", "ria novosti",
)
_AGENCY_PATTERN = re.compile(r"(?<![a-z])(" + "|".join(re.escape(a) for a in AGENCY_CREDITS) + r")(?![a-z])", re.I)


def sanitise_html(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener").strip()


def html_to_text(html: str) -> str:
    tree = HTMLParser(html)
    blocks = [node.text(separator=" ", strip=True) for node in tree.css("p, h2, h3, h4, li, blockquote, figcaption")]
    blocks = [b for b in blocks if b]
    if not blocks:
        body = tree.body or tree.root
        return re.sub(r"\s+", " ", body.text(separator=" ", strip=True) if body else "").strip()
    return "\n\n".join(re.sub(r"\s+", " ", b) for b in blocks)


def word_count(text: str) -> int:
    return len(re.findall(r"\w+(?:['’-]\w+)*", text))


def slugify(text: str, *, max_length: int = 120) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "article"


def is_agency_credit(credit: str | None) -> bool:
    return bool(credit and _AGENCY_PATTERN.search(credit))


def content_hash(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
