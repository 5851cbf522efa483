"""Pictures embedded in an article body are pulled out into the article's assets at ingest.

A CMS body often carries its pictures inline (`<figure><img><figcaption>... (Reuters)</figcaption>`,
an `<img>` with a credit attribute, a paragraph holding an image and its caption). Left there, a
wire photo would travel inside the licensed body, outside the asset rules that keep third-party
pictures out of licensed copies. So every image leaves the body and becomes an asset with its URL,
caption and credit; whether it may be relicensed is then decided from the credit like any other
asset's. The stored body holds text only.
"""

from __future__ import annotations

import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from api.catalogue.text import is_agency_credit, split_caption

_HAS_IMAGE = re.compile(r"<\s*(img|picture|source)\b", re.I)
_IMAGE_TAGS = "img, picture, source"
_CREDIT_NODES = ("[class*=credit], [class*=copyright], [itemprop=copyrightHolder], [itemprop=creditText], "
                 "[itemprop=author], .source")
_CREDIT_ATTRIBUTES = ("data-credit", "data-copyright", "data-photo-credit", "data-author", "data-source")
_CAPTION_CLASS = re.compile(r"(caption|credit|photo-?text|image-?text|wp-caption-text)", re.I)
_TRAILING_AGENCY = re.compile(r"^(?P<caption>.*?)[\s.,;:–—-]*[(\[](?P<credit>[^()\[\]]{2,80})[)\]]$")
_LABEL = re.compile(r"^(photo|picture|image|credit|photograph)s?\s*(by|:)\s*", re.I)
_CAPTION_BLOCKS = ("p", "div", "span")
_TEXT_BLOCKS = "p, div, h1, h2, h3, h4, h5, h6, ul, ol, blockquote, table"
_MAX_CAPTION = 300


def _squash(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").replace("\u00a0", " ")).strip()


def _text(node: LexborNode | None) -> str:
    return _squash(node.text(separator=" ")) if node is not None else ""


def _url(node: LexborNode) -> str | None:
    """The image's address when it is an absolute http(s) URL; anything else (a relative path,
    `data:`, `javascript:`) cannot be fetched by a licensee and is not kept."""
    attrs = node.attributes
    candidates = [attrs.get("src"), attrs.get("data-src"), attrs.get("data-original")]
    srcset = attrs.get("srcset") or attrs.get("data-srcset")
    if srcset:
        candidates.append(srcset.split(",")[0].strip().split(" ")[0])
    for candidate in candidates:
        value = (candidate or "").strip()
        if value.startswith("//"):
            value = "https:" + value
        if re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.I):
            return value[:1000]
    if node.tag == "img" and node.parent is not None and node.parent.tag == "picture":
        return next(filter(None, (_url(source) for source in node.parent.css("source"))), None)
    return None


def split_credit(text: str) -> tuple[str | None, str | None]:
    """(caption, credit) from a caption line: "Putin and Assad (Reuters)", "... Photo: AFP", "AFP"."""
    text = _squash(text)
    if not text:
        return None, None
    found = split_caption(text)
    if found:
        return found[0] or None, found[1]
    match = _TRAILING_AGENCY.match(text)
    if match and is_agency_credit(match["credit"]):
        return _squash(match["caption"]).strip(" -–—,;") or None, match["credit"].strip(" .")
    labelled = _LABEL.sub("", text)
    if labelled != text or (is_agency_credit(text) and len(text.split()) <= 4):
        return None, labelled.strip(" .") or None
    return text, None


def _credit_from(node: LexborNode) -> str | None:
    credit_node = node.css_first(_CREDIT_NODES) if node.tag not in ("img", "source") else None
    if credit_node is not None and _text(credit_node):
        return _text(credit_node)
    for image in [node, *node.css(_IMAGE_TAGS)]:
        for attribute in _CREDIT_ATTRIBUTES:
            if _squash(image.attributes.get(attribute)):
                return _squash(image.attributes.get(attribute))
    return None


def _describe(container: LexborNode, caption_text: str | None, image: LexborNode) -> dict[str, Any]:
    """The asset for one image: caption and credit from the markup, else parsed from the caption text."""
    credit = _credit_from(container)
    caption: str | None = _squash(caption_text)
    if credit and caption:
        caption = _squash(re.sub(r"[\s(\[]*" + re.escape(credit) + r"[)\]\s]*$", "", caption))
    if not caption:
        caption = _squash(image.attributes.get("alt") or image.attributes.get("title"))
    if caption and not credit:
        caption, credit = split_credit(caption)
    credit = _LABEL.sub("", _squash(credit)).strip(" ()[].") if credit else None
    return {"url": _url(image), "caption": (caption or None) and caption[:2000], "credit": (credit or None) and credit[:300]}


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    ids = {n.mem_id for n in nodes}
    kept = []
    for node in nodes:
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            kept.append(node)
    return kept


def _images_in(node: LexborNode) -> list[LexborNode]:
    """One node per picture: an <img>, or a <picture>'s sources when it has no <img>."""
    images = list(node.css("img")) if node.tag not in ("img", "source") else [node]
    if not images:
        images = [s for s in node.css("source")][:1]
    return images


def _caption_sibling(block: LexborNode) -> LexborNode | None:
    """A caption written as the paragraph right after an image-only paragraph."""
    sibling = block.next
    while sibling is not None and sibling.tag == "-text" and not _squash(sibling.text_content):
        sibling = sibling.next
    if sibling is None or sibling.tag not in _CAPTION_BLOCKS or sibling.css_first(_IMAGE_TAGS) is not None:
        return None
    text = _text(sibling)
    if not text or len(text) > _MAX_CAPTION:
        return None
    if _CAPTION_CLASS.search(sibling.attributes.get("class") or ""):
        return sibling
    return sibling if split_caption(text) is not None else None


def _holder(image: LexborNode, stop: LexborNode) -> LexborNode:
    """The element that exists only to hold the image (a link, a <picture>, an image-only paragraph)."""
    holder = image
    while holder.parent is not None and holder.parent.mem_id != stop.mem_id and holder.parent.tag in (
            "a", "picture", "span", "p", "div") and not _text_without(holder.parent, holder):
        holder = holder.parent
    return holder


def _text_without(node: LexborNode, inner: LexborNode) -> str:
    return _squash(node.text(separator=" ").replace(inner.text(separator=" "), "", 1))


def extract_images(body_html: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the body without its images, and one asset dict (url, caption, credit) per image.

    A body without images is returned exactly as given, so articles stored before this rule keep
    their content hash (and a re-import of them is still "unchanged").
    """
    if not _HAS_IMAGE.search(body_html):
        return body_html, []
    tree = LexborHTMLParser(body_html)
    root = tree.body or tree.root
    if root is None:
        return body_html, []
    assets, doomed = _figure_images(root)
    figure_ids = {f.mem_id for f in doomed}
    for image in root.css("img, picture"):
        if _described_elsewhere(image, figure_ids):
            continue
        asset, removed = _loose_image(image, root)
        assets.append(asset)
        doomed.extend(removed)

    unique = list({n.mem_id: n for n in doomed}.values())
    for node in _outermost(unique):
        node.decompose()
    # An image with neither a usable address nor a credit says nothing a licensee could use.
    kept = [a for a in assets if a["url"] or a["credit"]]
    return root.inner_html or "", kept


def _figure_images(root: LexborNode) -> tuple[list[dict[str, Any]], list[LexborNode]]:
    """Every image inside a <figure>, captioned by its <figcaption>; the figures leave the body."""
    assets: list[dict[str, Any]] = []
    figures: list[LexborNode] = []
    for figure in _outermost([f for f in root.css("figure") if f.css_first(_IMAGE_TAGS) is not None]):
        caption = _text(figure.css_first("figcaption"))
        for image in _images_in(figure):
            assets.append(_describe(figure, caption, image))
        figures.append(figure)
    return assets, figures


def _described_elsewhere(image: LexborNode, figure_ids: set[int]) -> bool:
    """An <img> of a <picture> is described with its picture, an image in a figure with the figure."""
    in_picture = image.tag == "img" and image.parent is not None and image.parent.tag == "picture"
    return in_picture or _inside(image, figure_ids)


def _loose_image(image: LexborNode, root: LexborNode) -> tuple[dict[str, Any], list[LexborNode]]:
    """An image outside any figure: its asset, and the nodes that leave the body with it. Its caption
    is the rest of the paragraph holding it ("<p><img> Putin and Assad (Reuters)</p>"), else a
    caption-looking paragraph next to it, else none."""
    holder = _holder(image, root)
    block = holder.parent if holder.parent is not None and holder.parent.mem_id != root.mem_id else None
    pictures = _images_in(image)
    picture = pictures[0] if pictures else image
    rest = _text_without(block, holder) if block is not None and block.tag in _CAPTION_BLOCKS else ""
    if block is not None and rest and len(rest) <= _MAX_CAPTION and not _has_inner_blocks(block) \
            and (_credit_from(block) or split_caption(rest) is not None):
        return _describe(block, rest, picture), [block]
    if not rest:
        sibling = _caption_sibling(holder if holder.tag in _CAPTION_BLOCKS else block or holder)
        if sibling is not None:
            return _describe(sibling, _text(sibling), picture), [holder, sibling]
    return _describe(holder, None, picture), [holder]


def _has_inner_blocks(node: LexborNode) -> bool:
    return any(inner.mem_id != node.mem_id for inner in node.css(_TEXT_BLOCKS))


def _inside(node: LexborNode, ids: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return True
        parent = parent.parent
    return False
