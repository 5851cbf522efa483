"""The page URL a beacon reports, normalised: one page, one address."""

from __future__ import annotations

import pytest

from api.tracking.urls import UNKNOWN, normalise_page_url


@pytest.mark.parametrize("reported", [
    "https://outlet.example/story",
    "HTTPS://Outlet.EXAMPLE/story",
    "https://outlet.example:443/story",
    "https://outlet.example/story/",
    "https://outlet.example/story#comments",
    "https://outlet.example/story?utm_source=newsletter&utm_medium=email&utm_campaign=dec",
    "https://outlet.example/story?fbclid=IwAR0abc&gclid=Cj0K&msclkid=1&mc_eid=9&_ga=2.1",
    "https://editor:secret@outlet.example/story",
    "https://outlet.example/./news/../story",
    "  https://outlet.example/story  ",
])
def test_spellings_of_one_page_are_one_page(reported):
    assert normalise_page_url(reported) == "https://outlet.example/story"


def test_what_names_the_page_is_kept_and_ordered():
    assert normalise_page_url("http://outlet.example:80/p?id=5&utm_term=x&b=2") == "http://outlet.example/p?b=2&id=5"
    assert normalise_page_url("https://outlet.example:8443/p") == "https://outlet.example:8443/p"
    assert normalise_page_url("https://outlet.example") == "https://outlet.example/"
    assert normalise_page_url("https://outlet.example/a%7eb") == "https://outlet.example/a~b"
    assert normalise_page_url("https://bücher.example/x") == "https://xn--bcher-kva.example/x"
    assert normalise_page_url("https://[2001:db8::1]:8080/x") == "https://[2001:db8::1]:8080/x"


@pytest.mark.parametrize("reported", [None, "", "   ", "not a url", "javascript:alert(1)", "ftp://outlet.example/x",
                                      "https://bad host/x", "about:blank"])
def test_no_page_or_not_a_web_page_is_unknown(reported):
    assert normalise_page_url(reported) == UNKNOWN


def test_a_long_address_is_cut_to_the_column():
    assert len(normalise_page_url("https://outlet.example/" + "a" * 2000)) == 1000
