"""Page furniture: what a web page wraps round an article, and the rules that strip it.

Shared by the text and HTML page importers, which both reduce a page to a list of `Block`s first.

* Navigation lines ("Skip to main content", "Share on Twitter", ...) are dropped wherever they are.
* A "Read More »" link is a teaser for another article: it is dropped together with the teaser's
  headline, the block right before it (when that block sits directly above it or reads like a
  headline rather than a sentence).
* The publisher's footer ("... To learn more about republishing this content ...", a short
  copyright line) ends the article when only page furniture follows it (short lines, links,
  more copyright): it and everything after it are dropped. A body paragraph that merely
  mentions "all rights reserved" is not a footer.
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
# The publisher's own footer sentences: unmistakable wherever they stand on the page.
PUBLISHER_FOOTER = re.compile(
    r"(to learn more about republishing this content|delivers independent and unrivalled coverage|"
    r"more about mee can be found here)",
    re.I,
)
# Generic copyright lines, which a body paragraph may also contain ("all rights reserved by the band").
COPYRIGHT_LINE = re.compile(r"(all rights reserved|^©|^copyright\s+(©|\(c\)|\d{4}))", re.I)
FOOTER_MAX_WORDS = 25      # a copyright line is short; a body paragraph that quotes one is not
TRAILER_MAX_WORDS = 20     # what follows a footer: link lists, "About us", a copyright line
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
    """Short, and not a sentence, or a single question ("Is Russia preparing to leave Syria?")."""
    if not 0 < len(text.split()) <= 25:
        return False
    one_question = text.endswith("?") and not re.search(r"[.!?…]\s", text[:-1])
    return not ends_sentence(text) or one_question


def looks_like_footer(text: str) -> bool:
    return bool(PUBLISHER_FOOTER.search(text)
                or (COPYRIGHT_LINE.search(text) and len(text.split()) <= FOOTER_MAX_WORDS))


def _trailer(block: Block) -> bool:
    """A block that may follow the footer: more footer, navigation, or a short line that is not a sentence."""
    text = block.text
    return (looks_like_footer(text) or bool(NAVIGATION.match(text) or READ_MORE.match(text))
            or len(text.split()) <= TRAILER_MAX_WORDS and not ends_sentence(text)
            or len(text.split()) <= 6)


def _is_footer(blocks: list[Block], index: int) -> bool:
    """The footer starts here: a footer-like block with nothing but page furniture after it, so that a
    body paragraph mentioning "all rights reserved" never cuts the article short."""
    return looks_like_footer(blocks[index].text) and all(_trailer(b) for b in blocks[index + 1:])


def strip_furniture(blocks: list[Block]) -> list[Block]:
    kept: list[Block] = []
    for index, block in enumerate(blocks):
        text = block.text
        if not text or NAVIGATION.match(text) or READ_MORE_INLINE.match(text):
            continue
        if len(kept) >= 2 and _is_footer(blocks, index):
            break
        if READ_MORE.match(text):
            if len(kept) >= 2 and (block.adjacent or looks_like_teaser_headline(kept[-1].text)):
                kept.pop()  # the teaser's headline
            continue
        kept.append(block)
    return kept
