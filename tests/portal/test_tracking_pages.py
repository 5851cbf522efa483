"""The portal's "Where shown" page: a partner's own sightings, and its copies still live after a kill."""

from __future__ import annotations

from tests.builders import make_partner
from tests.portal.test_pages import _sign_in
from tests.portal.test_republish import web  # noqa: F401 - the https client fixture
from tests.tracking.data import copies_with_a_case


def test_a_partner_sees_where_its_copies_are_shown_and_what_is_still_live(web, session) -> None:  # noqa: F811
    case = copies_with_a_case(session)
    copies_with_a_case(session, partner=make_partner(session, name="Rival Daily"))
    from api.partners.models import Partner
    _sign_in(web, session, session.get(Partner, case.partner_id))
    page = web.get("/portal/sightings")
    assert page.status_code == 200
    assert page.text.count('<a class="page-url" href="https://') == 3 + 1  # three pages, and the one still live
    assert "Still live after a kill" in page.text and "The article was withdrawn on" in page.text
    assert case.page_url in page.text and "By day" in page.text
    assert 'href="/portal/sightings" aria-current="page"' in page.text
    assert "<script" not in page.text.split("</head>")[1]


def test_a_partner_with_no_sightings_is_told_how_they_appear(web, session) -> None:  # noqa: F811
    partner = make_partner(session)
    session.commit()
    _sign_in(web, session, partner)
    page = web.get("/portal/sightings")
    assert page.status_code == 200 and "No sightings yet" in page.text and "Still live" not in page.text
