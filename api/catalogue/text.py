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
    "ul", "ol", "li", "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub",
}
# No <img>: pictures leave the body at ingest and become assets (api/catalogue/inline_images.py),
# where the rules on third-party pictures apply; one that slipped through is dropped here.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}

# Credits that belong to wire services and picture agencies: not the publisher's to relicense.
AGENCY_CREDITS = (
    "reuters", "afp", "agence france-presse", "ap", "associated press", "getty", "getty images", "epa",
    "epa-efe", "efe", "anadolu", "anadolu agency", "dpa", "xinhua", "ansa", "shutterstock", "alamy", "pa images",
    "pa media", "bloomberg", "sipa", "abaca", "zuma", "nurphoto", "upi", "wana", "sana", "tass", "ria novosti",
)
_AGENCY_PATTERN = re.compile(r"(?<![a-z])(" + "|".join(re.escape(a) for a in AGENCY_CREDITS) + r")(?![a-z])", re.I)


def sanitise_html(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener").strip()


# Elements that start a new paragraph of plain text; everything else flows inline.
BLOCK_ELEMENTS = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "figure", "figcaption", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody",
    "tfoot", "tr", "td", "th", "caption", "pre", "hr", "address", "details", "summary",
})


def html_to_text(html: str) -> str:
    """Paragraphs of plain text, separated by blank lines: each run of inline content between block
    boundaries is one paragraph, so text in nested blocks (a <p> in a <blockquote>, a list in a list
    item) appears once, and loose text outside any block is not lost."""
    tree = HTMLParser(html)
    root = tree.body or tree.root
    if root is None:
        return ""
    paragraphs: list[str] = []
    run: list[str] = []

    def flush() -> None:
        text = re.sub(r"\s+", " ", "".join(run)).strip()
        if text:
            paragraphs.append(text)
        run.clear()

    def walk(node) -> None:
        for child in node.iter(include_text=True):
            if child.tag == "-text":
                run.append(child.text_content or "")
            elif child.tag == "br":
                run.append(" ")
            elif child.tag in BLOCK_ELEMENTS:
                flush()
                walk(child)
                flush()
            elif child.tag not in ("script", "style", "template"):
                walk(child)

    walk(root)
    flush()
    return "\n\n".join(paragraphs)


def word_count(text: str) -> int:
    return len(re.findall(r"\w+(?:['’-]\w+)*", text))


def slugify(text: str, *, max_length: int = 120) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "article"


def is_agency_credit(credit: str | None) -> bool:
    return bool(credit and _AGENCY_PATTERN.search(credit))


_PAREN_CREDIT = re.compile(r"^(?P<caption>.{15,}?)\s*[(\[](?P<credit>[^()\[\]]{2,80})[)\]]$")
_LABELLED_CREDIT = re.compile(
    r"^(?P<caption>.{15,}?)[\s.,;|–—-]+(?:photo|picture|image|credit|photograph)s?\s*(?:by|:)\s*(?P<credit>[^()]{2,80})$", re.I
)
_CREDIT_WORDS = re.compile(r"(/|\bphoto|\bpicture|\bimage|\bcredit|\bcourtesy|\bfile\b|\bstaff\b|\bhandout\b|\bvia\b)", re.I)


def split_caption(text: str) -> tuple[str, str] | None:
    """(caption, credit) when the block reads as a picture caption with a credit, else None."""
    text = text.strip()
    for pattern in (_PAREN_CREDIT, _LABELLED_CREDIT):
        match = pattern.match(text)
        if not match:
            continue
        credit = match["credit"].strip(" .")
        if pattern is _LABELLED_CREDIT or is_agency_credit(credit) or _CREDIT_WORDS.search(credit):
            return match["caption"].strip(" -–—,;"), credit
    return None


def content_hash(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
