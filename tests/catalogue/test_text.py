"""Plain text from sanitised bodies: each piece of text once, in reading order."""

from __future__ import annotations

import pytest

from api.catalogue.text import html_to_text, word_count


@pytest.mark.parametrize(("html", "text", "words"), [
    ("<p>One two.</p><blockquote><p>Three four.</p><p>Five.</p></blockquote><p>Six.</p>",
     "One two.\n\nThree four.\n\nFive.\n\nSix.", 6),
    ("<blockquote>Seven eight nine.</blockquote>", "Seven eight nine.", 3),
    ("<ul><li>Alpha<ul><li>Beta</li><li>Gamma</li></ul></li><li>Delta</li></ul>", "Alpha\n\nBeta\n\nGamma\n\nDelta", 4),
    ("<ol><li><p>First point.</p></li></ol>", "First point.", 2),
    ("<h2>Heightened tensions</h2><p>The visit came <em>amid</em> tensions.</p>",
     "Heightened tensions\n\nThe visit came amid tensions.", 7),
    ("<figure><blockquote>We will rebuild.</blockquote><figcaption>The mayor</figcaption></figure>",
     "We will rebuild.\n\nThe mayor", 5),
    ("<table><tr><td>Killed</td><td>500,000</td></tr></table><p>Estimates vary.</p>", "Killed\n\n500,000\n\nEstimates vary.", 5),
    ("Loose text before <p>a paragraph.</p> and after", "Loose text before\n\na paragraph.\n\nand after", 7),
    ("<p>Line one<br>line two</p>", "Line one line two", 4),
    ("plain words only", "plain words only", 3),
    ("", "", 0),
])
def test_each_text_appears_once(html: str, text: str, words: int) -> None:
    assert html_to_text(html) == text
    assert word_count(html_to_text(html)) == words
