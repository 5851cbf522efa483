"""Article pages for the importer tests, modelled on the sample's real furniture."""

from __future__ import annotations

import html
import json

from tests.conftest import SAMPLES

SAMPLE_TEXT = SAMPLES / "mee-article-putin-syria.txt"
HEADLINE = "Putin makes surprise visit to Syria amid US-Iran tensions"
STANDFIRST = ("Rare visit comes as regional tensions intensify following the targeted killing of Iranian general "
              "Qassem Soleimani")
CAPTION = "Russian President Vladimir Putin shakes hands with Syria's President Bashar al-Assad"
FIRST_PARAGRAPH = ("Russia's president met his Syrian counterpart on Tuesday during a surprise visit to the Syrian "
                   "capital, as the prospect of war between Iran and the United States loomed over the region.")
LAST_PARAGRAPH = "They make up the bulk of the broader coalition, invited by the Iraqi government in 2014 to help combat IS."
TEASER_HEADLINES = ("Tracked, targeted, killed: Qassem Soleimani's final hours",
                    "Russia suggests selling S-400 missile system to Iraq amid row over US troops")
FURNITURE = ("Skip to main content", "Read More", "»", *TEASER_HEADLINES, "Middle East Eye delivers",
             "republishing this content", "fill out this form", "More about MEE")
CANONICAL = "https://www.middleeasteye.net/news/putin-makes-surprise-visit-syria-amid-us-iran-tensions"


def sample_paragraphs() -> list[str]:
    """The body paragraphs of the sample, read straight from the file (lines 8-46, minus furniture)."""
    lines = [line.strip() for line in SAMPLE_TEXT.read_text().splitlines()]
    body = lines[7:46]
    return [line for line in body if line and line != "Read More »" and line not in TEASER_HEADLINES
            and line != "Heightened tensions"]


def mee_html_page() -> str:
    """The sample as a publisher's HTML page: nav, JSON-LD, figure, teaser boxes, footer."""
    paragraphs = sample_paragraphs()
    first, middle, last = paragraphs[:4], paragraphs[4:10], paragraphs[10:]
    p = lambda items: "".join(f"<p>{html.escape(t)}</p>" for t in items)  # noqa: E731
    ld = {
        "@context": "https://schema.org", "@graph": [
            {"@type": "WebSite", "name": "Middle East Eye"},
            {"@type": "NewsArticle", "headline": HEADLINE, "description": STANDFIRST,
             "datePublished": "2020-01-07T14:24:00+00:00", "articleSection": "News",
             "keywords": ["Russia", "Syria", "Vladimir Putin"], "inLanguage": "en",
             "author": [{"@type": "Person", "name": "MEE and agencies"}],
             "mainEntityOfPage": {"@id": CANONICAL}},
        ],
    }
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<title>{HEADLINE} | Middle East Eye</title>
<link rel="canonical" href="{CANONICAL}">
<meta property="og:title" content="{HEADLINE}">
<meta property="og:description" content="{STANDFIRST}">
<meta property="article:tag" content="Iran">
<script type="application/ld+json">{json.dumps(ld)}</script>
</head><body>
<a class="skip-link" href="#main">Skip to main content</a>
<header><nav><a href="/">News</a><a href="/opinion">Opinion</a></nav></header>
<main id="main"><article>
<h1>{HEADLINE}</h1>
<div class="article-meta"><p class="byline">By MEE and agencies</p><time datetime="2020-01-07T14:24:00Z">7 January 2020</time></div>
<div class="standfirst"><p>{STANDFIRST}</p></div>
<figure><img src="https://www.middleeasteye.net/img/putin-assad.jpg" alt="Putin and Assad">
<figcaption>{html.escape(CAPTION)} <span class="credit">(Reuters)</span></figcaption></figure>
<div class="share-buttons"><a>Share on Twitter</a></div>
{p(first)}
<div class="mee-related"><h3><a href="/news/soleimani">{html.escape(TEASER_HEADLINES[0])}</a></h3>
<a href="/news/soleimani">Read More »</a></div>
{p(middle)}
<h2>Heightened tensions</h2>
<div class="inline-box"><h3>{html.escape(TEASER_HEADLINES[1])}</h3><a href="/news/s400">Read More »</a></div>
{p(last)}
</article>
<aside><h2>Most read</h2><p>Another story entirely.</p></aside>
</main>
<footer><p>Middle East Eye delivers independent and unrivalled coverage and analysis of the Middle East, North Africa
and beyond. To learn more about republishing this content and the associated fees, please fill out this form.</p></footer>
</body></html>"""


def bare_html_page() -> str:
    """The sample text with every line wrapped in <p>: no metadata, furniture inline."""
    lines = [line.strip() for line in SAMPLE_TEXT.read_text().splitlines() if line.strip()]
    return "<html><body>" + "".join(f"<p>{html.escape(line)}</p>" for line in lines) + "</body></html>"
