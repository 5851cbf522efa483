"""Accept negotiation weighs q-values (RFC 9110 §12.5.1), for articles and feeds."""

from __future__ import annotations

import pytest

from api.delivery.feeds import FEED_OFFERS
from api.delivery.runtime import ARTICLE_OFFERS
from tests.delivery.conftest import bearer, mint

NINJS = "application/vnd.iptc.ninjs+json"


@pytest.mark.parametrize("accept, chosen", [
    (None, "json"), ("", "json"), ("*/*", "json"),
    ("application/json", "json"), ("text/html", "html"), (NINJS, "ninjs"), ("application/ninjs+json", "ninjs"),
    ("text/html;q=0.1, application/json", "json"),  # the weight decides, not the order
    ("application/json;q=0.5, text/html;q=0.9", "html"),
    ("text/html, application/json", "html"),  # equal weights: the client's order
    ("text/*", "html"), ("application/*", "json"),  # a wildcard: the server's preference among its matches
    (f"*/*;q=0.8, {NINJS}", "ninjs"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),  # a browser
    ("application/json;q=0, */*", "ninjs"),  # q=0 refuses JSON only; the more specific range wins for it
    ("TEXT/HTML; Q=0.9", "html"), ("text/html;level=1;q=0.5, application/json;q=0.4", "html"),
    ("application/json;q=0", None), ("*/*;q=0", None), ("image/png", None), ("text/plain, image/*", None),
    ("application/json;q=abc", None), ("nonsense", None),
])
def test_article_accept_negotiation(accept, chosen):
    assert ARTICLE_OFFERS.choose(accept) == chosen


@pytest.mark.parametrize("accept, chosen", [
    (None, "json"), ("application/atom+xml", "atom"), ("application/rss+xml", "rss"),
    ("application/rss+xml, application/rdf+xml;q=0.8, application/atom+xml;q=0.6, application/xml;q=0.4", "rss"),
    ("application/atom+xml;q=0.2, application/rss+xml;q=0.7", "rss"), ("application/xml", "atom"),
    ("text/html", None), ("application/rss+xml;q=0", None),
])
def test_feed_accept_negotiation(accept, chosen):
    assert FEED_OFFERS.choose(accept) == chosen


def test_each_distinct_accept_is_parsed_once(monkeypatch):
    calls = []
    parse = ARTICLE_OFFERS._choose
    monkeypatch.setattr(ARTICLE_OFFERS, "_choose", lambda accept: calls.append(accept) or parse(accept))
    for _ in range(3):
        assert ARTICLE_OFFERS.choose("application/json;q=0.3, text/html;q=0.31") == "html"
    assert len(calls) <= 1  # at most once (it may have been answered by an earlier test)


def test_q_values_decide_over_http(client, licensed):
    token = mint(client, licensed)["token"]
    url = f"/v1/content/articles/{licensed.articles[0].id}"
    json_first = client.get(url, headers={**bearer(token), "Accept": "text/html;q=0.1, application/json"})
    assert json_first.status_code == 200 and json_first.headers["content-type"] == "application/json"
    refused = client.get(url, headers={**bearer(token), "Accept": "application/json;q=0"})
    assert refused.status_code == 406 and refused.json()["type"] == "/problems/format-not-acceptable"
    assert refused.json()["available"] == ["json", "ninjs", "html"]
    feed = client.get("/v1/content/feed", headers={**bearer(token), "Accept": "application/atom+xml;q=0.5, application/rss+xml"})
    assert feed.status_code == 200 and feed.headers["content-type"] == "application/rss+xml"
    unknown = client.get("/v1/content/feed", headers={**bearer(token), "Accept": "text/calendar"})
    assert unknown.status_code == 406 and unknown.json()["type"] == "/problems/format-not-acceptable"
