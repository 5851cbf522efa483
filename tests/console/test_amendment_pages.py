"""The licence page: its terms, history of changes, and the amend and quota-grant forms, by role."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.core.db import utcnow
from api.licensing import amendments, grants
from api.licensing.models import Licence
from tests.builders import TEST_ACTOR, make_article, make_licence, make_partner
from tests.console.helpers import log_in


def _licence(session, **kwargs) -> Licence:
    licence = make_licence(session, partner=make_partner(session, name="Outlet Gazette"),
                           articles=[make_article(session)], amount=24_000, monthly_quota=100, **kwargs)
    grants.activate(session, licence, actor=TEST_ACTOR)
    session.commit()
    return licence


def _fresh(session, licence_id):
    session.commit()
    session.expire_all()
    return session.get(Licence, licence_id)


@pytest.mark.parametrize("role, status", [("licensing", 200), ("admin", 200), ("finance", 403), ("editor", 403)])
def test_the_licence_page_by_role(console, session, role, status):
    licence = _licence(session)
    log_in(console, session, roles=[role])
    page = console.get(f"/console/licences/{licence.id}")
    assert page.status_code == status
    if status == 200:
        assert "Outlet Gazette" in page.text and "One-off fee" in page.text and "240.00 GBP" in page.text
        assert "one_off" not in page.text.replace('value="one_off"', "")
        assert "Amend the terms" in page.text and "Grant extra quota" in page.text


@pytest.mark.parametrize("role, status", [("licensing", 303), ("finance", 403), ("editor", 403)])
def test_amend_and_grant_by_role(console, session, role, status):
    licence = _licence(session)
    csrf = log_in(console, session, roles=[role])
    amended = console.post(f"/console/licences/{licence.id}/amend", follow_redirects=False, data={
        "csrf_token": csrf, "monthly_quota": "250", "territories": "GB", "use": "web", "reason": "Bigger newsroom",
        "ends_on": licence.ends_at.date().isoformat()})
    assert amended.status_code == status
    granted = console.post(f"/console/licences/{licence.id}/quota-grants", follow_redirects=False, data={
        "csrf_token": csrf, "extra": "500", "until": (utcnow() + timedelta(days=10)).date().isoformat(),
        "reason": "Election burst"})
    assert granted.status_code == status
    if status == 303:
        assert _fresh(session, licence.id).monthly_quota == 250
        page = console.get(granted.headers["location"])
        assert "Quota granted" in page.text and "+500 a month until" in page.text
        assert "Terms amended" in page.text and "Bigger newsroom" in page.text and "100 → 250" in page.text
        assert [a.kind for a in amendments.list_amendments(session, licence.id)] == ["terms", "quota_grant"]


def test_an_extension_shows_its_price_and_a_refusal_keeps_the_form(console, session):
    licence = _licence(session)
    csrf = log_in(console, session, roles=["licensing"])
    later = (licence.starts_at + timedelta(days=200)).date().isoformat()
    done = console.post(f"/console/licences/{licence.id}/amend", data={
        "csrf_token": csrf, "ends_on": later, "monthly_quota": "100", "territories": "GB", "use": "web",
        "reason": "Longer run"})
    assert done.status_code == 200 and "invoiced" in done.text and "Rate card v" in done.text
    refused = console.post(f"/console/licences/{licence.id}/amend", data={
        "csrf_token": csrf, "ends_on": later, "monthly_quota": "100", "territories": "GB ZZ", "use": "web",
        "reason": "Oops"})
    assert refused.status_code == 422 and "ZZ" in refused.text and 'value="GB ZZ"' in refused.text
    nothing = console.post(f"/console/licences/{licence.id}/quota-grants", data={
        "csrf_token": csrf, "extra": "5", "until": "", "reason": "x"})
    assert nothing.status_code == 422 and "until when" in nothing.text
    stale = console.post(f"/console/licences/{licence.id}/amend", data={"csrf_token": "nope", "reason": "x"})
    assert stale.status_code == 403
    assert len(amendments.list_amendments(session, licence.id)) == 1


def test_licences_list_and_request_link_to_the_licence_page(console, session):
    licence = _licence(session)
    log_in(console, session, roles=["licensing"])
    assert f'href="/console/licences/{licence.id}"' in console.get("/console/licences").text
    assert f'href="/console/licences/{licence.id}"' in console.get(f"/console/requests/{licence.request_id}").text
    assert console.get("/console/licences/lic_missing").status_code == 404


def test_the_cap_on_live_articles_is_shown_set_and_lifted(console, session):
    licence = _licence(session)
    csrf = log_in(console, session, roles=["licensing"])
    assert 'id="licence-cap">No cap<' in console.get(f"/console/licences/{licence.id}").text
    form = {"csrf_token": csrf, "monthly_quota": "100", "territories": "GB", "use": "web", "cap_shown": "1",
            "ends_on": licence.ends_at.date().isoformat()}
    capped = console.post(f"/console/licences/{licence.id}/amend", data={**form, "max_live_articles": "5",
                                                                         "reason": "Five at a time"})
    assert capped.status_code == 200 and 'id="licence-cap">5<' in capped.text and "no limit → 5" in capped.text
    assert _fresh(session, licence.id).max_live_articles == 5
    lifted = console.post(f"/console/licences/{licence.id}/amend", data={**form, "max_live_articles": "",
                                                                         "reason": "No cap any more"})
    assert lifted.status_code == 200 and "5 → no limit" in lifted.text
    assert _fresh(session, licence.id).max_live_articles is None
