"""The licensed body of an article: its HTML and text with nothing that is not the publisher's to
relicense (wire and agency pictures, see `catalogue.text.is_agency_credit`).

Computed when an article is written (the catalogue stores it beside the body, with the content
hash it was made from) and again only where that stored copy is missing or stale: it is the most
expensive part of a first delivery (an HTML parse and a text rebuild, ~1-5 ms per article). It must
hold whatever ingest left in the body, so it does not trust the body to reference a blocked asset only by its exact URL:
- URLs are compared by host and path: scheme, query (resized variants such as `?w=800`) and
  fragment are ignored, and relative URLs are resolved against the article's canonical URL;
- every attribute is checked (`src`, `srcset` candidates, `href`, `data-*`, `poster`, `style`
  `url(...)`), not only `img src`;
- a matching picture goes with its whole `<figure>` (and so its caption) or `<picture>`; a text
  link to it is unwrapped (its words stay, the link goes); a block left holding only a blocked
  asset's caption or credit (a caption outside any figure) goes too;
- the plain text and word count are rebuilt from the stripped HTML, so the caption of a removed
  figure cannot survive in `body_text`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from api.catalogue.text import html_to_text, word_count

_CONTAINERS = ("figure", "picture", "video", "audio", "object")
_CAPTION_BLOCKS = "figcaption, p, div, li, blockquote, h2, h3, h4"
_STYLE_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")
_WORDS = re.compile(r"[^\w]+")


class LicensableAsset(Protocol):
    """A picture or other file of an article, as the catalogue stores it or delivery holds it."""
    @property
    def position(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def caption(self) -> str | None: ...
    @property
    def credit(self) -> str | None: ...
    @property
    def relicensable(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class LicensedBody:
    html: str
    text: str
    word_count: int
    assets: list[Any]  # the relicensable assets (AssetView) that may be shown
    removed: list[dict[str, Any]]  # one note per asset kept out of the licensed copy


def url_key(url: str | None, base: str) -> str | None:
    """What identifies the file a URL points at: host and path, without scheme, query or fragment."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(urljoin(base, url.strip()))
    except ValueError:
        return None
    if not parts.netloc:
        return None
    return parts.netloc.lower() + unquote(parts.path or "/")


def _candidates(name: str, value: str) -> list[str]:
    if "srcset" in name:
        return [c.split()[0] for c in value.split(",") if c.strip()]
    if name == "style":
        return _STYLE_URL.findall(value)
    return [value]


def _normal(text: str | None) -> str:
    return _WORDS.sub(" ", text or "").strip().casefold()


def _note(asset) -> dict[str, Any]:
    return {"position": asset.position, "kind": asset.kind, "credit": asset.credit,
            "reason": f"Credited to {asset.credit or 'a third party'}: not the publisher's to relicense."}


def _ancestors(node):
    while node is not None and node.tag not in ("body", "html"):
        yield node
        node = node.parent


def _outermost(nodes: list, among: set[int]) -> list:
    """The nodes not inside any node of `among` (mem ids), each once. Decide before mutating: a
    removed node's descendants are freed with it and must not be touched afterwards."""
    kept: dict[int, Any] = {}
    for node in nodes:
        if not any(a.mem_id in among for a in _ancestors(node.parent)):
            kept.setdefault(node.mem_id, node)
    return list(kept.values())


def _remove(nodes: list) -> None:
    for node in _outermost(nodes, {n.mem_id for n in nodes}):
        node.decompose()


def licensed_body(*, body_html: str, body_text: str, words: int, canonical_url: str,
                  assets: Sequence[LicensableAsset], already_licensed: bool = False) -> LicensedBody:
    """The licensed copy of a body. `already_licensed`: `body_html`, `body_text` and `words` are
    a copy this function made before (stored at write); only the cheap asset lists are redone."""
    base = canonical_url
    blocked_assets = [a for a in assets if not a.relicensable]
    blocked = {key for a in blocked_assets if (key := url_key(a.url, base))}
    shown = [a for a in assets if a.relicensable and url_key(a.url, base) not in blocked]
    if not blocked_assets:
        return LicensedBody(body_html, body_text, words, shown, [])
    removed = [_note(a) for a in blocked_assets]
    if already_licensed:
        return LicensedBody(body_html, body_text, words, shown, removed)
    root = LexborHTMLParser(body_html).body
    if root is None:
        return LicensedBody("", "", 0, shown, removed)
    doomed, unwrap = _references(root, blocked, base)
    _remove(doomed)
    for link in unwrap:
        link.unwrap()
    _remove_stray_captions(root, blocked_assets)
    html = root.inner_html or ""
    text = html_to_text(html)
    return LicensedBody(html, text, word_count(text), shown, removed)


def _refers_to(node, blocked: set[str], base: str) -> bool:
    """Whether any attribute of `node` points at a blocked file."""
    return any(url_key(candidate, base) in blocked
               for name, value in node.attributes.items() if value for candidate in _candidates(name.lower(), value))


def _references(root, blocked: set[str], base: str) -> tuple[list, list]:
    """What shows a blocked file: (nodes to remove, links to unwrap). A reference inside a figure
    or other container takes the container; a text link is unwrapped; anything else goes itself."""
    doomed, unwrap = [], []
    for node in root.traverse():
        if node.mem_id == root.mem_id or not _refers_to(node, blocked, base):
            continue
        container = next((a for a in _ancestors(node) if a.tag in _CONTAINERS), None)
        if container is not None:
            doomed.append(container)
        elif node.tag == "a":
            unwrap.append(node)
        else:
            doomed.append(node)
    return doomed, _outermost(unwrap, {n.mem_id for n in doomed})  # links inside removed nodes go with them


def _remove_stray_captions(root, blocked_assets: list) -> None:
    """Blocks left holding only a blocked asset's caption or credit (a caption outside any figure)."""
    captions = {_normal(t) for a in blocked_assets
                for t in (a.caption, a.credit, f"{a.caption or ''} {a.credit or ''}") if _normal(t)}
    if captions:
        _remove([b for b in root.css(_CAPTION_BLOCKS) if _normal(b.text(separator=" ")) in captions])
