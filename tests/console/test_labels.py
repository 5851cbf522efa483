"""The console speaks the desk's language: uses, territories, languages, states and billing modes
by name, in the same words as the portal (one function each: api/web/names.py, licensing.use_name)."""

from __future__ import annotations

import re

from api.console import views as console_views
from api.portal import views as portal_views
from api.licensing import service as licensing
from api.web import names
from tests.builders import make_article, make_licence, make_partner
from tests.console.helpers import log_in, submitted_request


def test_the_console_and_the_portal_share_one_naming_function_each() -> None:
    for name in ("countries", "language"):
        assert console_views.templates.env.filters[name] is portal_views.templates.env.filters[name] is getattr(names, name)
    assert console_views.templates.env.filters["use"] is portal_views.templates.env.filters["use"] is licensing.use_name
    assert licensing.use_name("web") == "Website" and names.countries(["GB", "FR"]) == "United Kingdom, France"
    assert names.language("en-GB") == "English (en-GB)" and names.country("XX") == "XX"


def test_a_request_and_a_licence_read_in_words_not_codes(console, session) -> None:
    request = submitted_request(session)
    partner = make_partner(session, country="DE", name="Berliner Blatt")
    licence = make_licence(session, partner=partner, articles=[make_article(session)], territories=["GB", "IE"],
                           amount=24_000)
    session.commit()
    log_in(console, session, roles=["licensing"])

    page = console.get(f"/console/requests/{request.id}").text
    dl = re.search(r'<dl class="terms">(.*?)</dl>', page, re.S).group(1)
    for words in ("Website", "United Kingdom", "English", "One article", "In review"):
        assert words in page, words
    for code in (">web<", ">GB<", ">en<", ">in_review<", ">one_off<"):
        assert code not in dl and code not in page, code

    licence_page = console.get(f"/console/licences/{licence.id}").text
    assert "United Kingdom, Ireland" in licence_page and "Germany" in licence_page and "Website" in licence_page
    assert "Awaiting payment" in licence_page and "One-off fee" in licence_page
