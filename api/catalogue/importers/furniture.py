"""Page furniture: what a web page wraps round an article, and the rules that strip it.

Shared by the text and HTML page importers, which both reduce a page to a list of `Block`s first.

* Navigation lines ("Skip to main content", "Share on Twitter", ...) are dropped wherever they are.
* A "Read More »" link is a teaser for another article: it is dropped together with the teaser's
  headline, the block right before it (when that block sits directly above it or reads like a
  headline rather than a sentence).
* The publisher's footer ("... To learn more about republishing this content ...", copyright
  lines) ends the article: it and everything after it are dropped.
* A line ending in a parenthesised credit, "(Reuters)", or "Photo: AFP", is a picture caption
  (`api.catalogue.text.split_caption`, shared with the inline-picture rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.catalogue.text import split_caption

__all__ = ["Block", "split_caption", "strip_furniture"]

NAVIGATION = re.compile(
    r"^(skip to (the )?(main )?content|skip to navigation|jump to (main )?content|advertisement|"
    r"share( this( article| story)?)?|(share|follow us) on [\w ]+|print( this article)?|e-?mail this article|"
    r"back to top|menu|search|close|subscribe( now)?|sign up( now)?|newsletter)$",
    re.I,
)
READ_MORE = re.compile(r"^(read more|read also|continue reading|more)\s*[»›>→]*\s*$", re.I)
READ_MORE_INLINE = re.compile(r"^(read more|read also|also read|related|see also)\s*[:»›>→]\s*\S", re.I)
FOOTER = re.compile(
    r"(to learn more about republishing this content|delivers independent and unrivalled coverage|"
    r"more about mee can be found here|all rights reserved|^©|^copyright\s+(©|\(c\)|\d{4}))",
    re.I,
)
SENTENCE_END = re.compile(r"[.!?…:;\"”'’)\]]$")


@dataclass
class Block:
    text: str                 # whitespace-collapsed text
    html: str | None = None   # the element's own HTML (HTML pages); None for text pages
    tag: str = "p"
    adjacent: bool = False    # text pages: no blank line between this block and the one before


def ends_sentence(text: str) -> bool:
    return bool(SENTENCE_END.search(text.strip()))


def looks_like_heading(text: str) -> bool:
    return 0 < len(text.split()) <= 12 and len(text) <= 120 and not ends_sentence(text)


def looks_like_teaser_headline(text: str) -> bool:
    return 0 < len(text.split()) <= 25 and not ends_sentence(text)


def strip_furniture(blocks: list[Block]) -> list[Block]:
    kept: list[Block] = []
    for block in blocks:
        text = block.text
        if not text or NAVIGATION.match(text) or READ_MORE_INLINE.match(text):
            continue
        if FOOTER.search(text) and len(kept) >= 2:
            break
        if READ_MORE.match(text):
            if len(kept) >= 2 and (block.adjacent or looks_like_teaser_headline(kept[-1].text)):
                kept.pop()  # the teaser's headline
            continue
        kept.append(block)
    return kept
