"""The staff users page: admins list, create, re-role, disable and re-enable accounts; nobody else may."""

from __future__ import annotations

import pytest
from sqlmodel import select

from api.audit import service as audit
from api.staff.models import StaffUser
from tests.builders import STAFF_PASSWORD, make_staff
from tests.console.helpers import another_browser, csrf_in, log_in, next_page_url

NEW = {"name": "Fiona Finance", "email": "Fiona@Example.com", "password": "a long enough passphrase",
       "roles": ["finance"]}


def _user(session, email: str) -> StaffUser | None:
    session.commit()
    session.expire_all()
    return session.exec(select(StaffUser).where(StaffUser.email == email)).first()


@pytest.mark.parametrize("role, status", [("admin", 200), ("licensing", 403), ("finance", 403), ("editor", 403)])
def test_the_staff_page_by_role(console, session, role, status):
    log_in(console, session, roles=[role])
    page = console.get("/console/staff")
    assert page.status_code == status
    assert ('href="/console/staff"' in console.get("/console").text) is (status == 200)
    if status == 200:
        assert "New staff account" in page.text and "Licensing" in page.text


@pytest.mark.parametrize("role, status", [("admin", 303), ("licensing", 403), ("editor", 403)])
def test_create_a_staff_account_by_role(console, session, role, status):
    csrf = log_in(console, session, roles=[role])
    answer = console.post("/console/staff", data={**NEW, "csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == status
    user = _user(session, "fiona@example.com")
    if status != 303:
        assert user is None
        return
    assert (user.name, user.roles, user.active) == ("Fiona Finance", ["finance"], True)
    page = console.get(answer.headers["location"])
    assert "Staff account created" in page.text and "Fiona Finance" in page.text
    entries, _ = audit.list_entries(session, object_type="staff_user", object_id=user.id)
    assert [e.action for e in entries] == ["staff.created"]
    with another_browser(console.app) as fiona:  # the new account logs in
        form = fiona.get("/console/login")
        assert fiona.post("/console/login", follow_redirects=False, data={
            "email": NEW["email"], "password": NEW["password"], "csrf_token": csrf_in(form.text)}).status_code == 303


def test_a_bad_new_account_is_refused_and_the_form_kept(console, session):
    csrf = log_in(console, session, roles=["admin"])
    short = console.post("/console/staff", data={**NEW, "password": "short", "csrf_token": csrf})
    assert short.status_code == 422 and "initial password" in short.text and 'value="Fiona Finance"' in short.text
    assert "short" not in short.text.split("New staff account")[1].replace("shortly", "")  # never echoed
    no_role = console.post("/console/staff", data={**NEW, "roles": [], "csrf_token": csrf})
    assert no_role.status_code == 422 and "roles" in no_role.text
    bad_email = console.post("/console/staff", data={**NEW, "email": "not-an-address", "csrf_token": csrf})
    assert bad_email.status_code == 422 and "e-mail" in bad_email.text
    make_staff(session, roles=["editor"], email="taken@example.com")
    session.commit()
    taken = console.post("/console/staff", data={**NEW, "email": "taken@example.com", "csrf_token": csrf})
    assert taken.status_code == 409 and "already has a staff account" in taken.text
    assert _user(session, "fiona@example.com") is None


def test_change_roles_disable_and_enable(console, session):
    csrf = log_in(console, session, roles=["admin"])
    other = make_staff(session, roles=["editor"], email="eddie@example.com")
    session.commit()
    with another_browser(console.app) as eddie:
        log_in_as_eddie = eddie.get("/console/login")
        assert eddie.post("/console/login", follow_redirects=False, data={
            "email": other.email, "password": STAFF_PASSWORD, "csrf_token": csrf_in(log_in_as_eddie.text)}
        ).status_code == 303
        assert eddie.get("/console/requests").status_code == 403

        changed = console.post(f"/console/staff/{other.id}/roles", follow_redirects=False,
                               data={"csrf_token": csrf, "roles": ["editor", "licensing"]})
        assert changed.status_code == 303 and _user(session, other.email).roles == ["editor", "licensing"]
        assert eddie.get("/console/requests").status_code == 200  # at once
        unknown = console.post(f"/console/staff/{other.id}/roles", data={"csrf_token": csrf, "roles": ["boss"]})
        assert unknown.status_code == 422 and "Unknown role" in unknown.text

        disabled = console.post(f"/console/staff/{other.id}/disable", follow_redirects=False, data={"csrf_token": csrf})
        assert disabled.status_code == 303 and _user(session, other.email).active is False
        assert "Account disabled" in console.get(disabled.headers["location"]).text
        assert eddie.get("/console/requests", follow_redirects=False).status_code == 303  # back to login
        enabled = console.post(f"/console/staff/{other.id}/enable", follow_redirects=False, data={"csrf_token": csrf})
        assert enabled.status_code == 303 and _user(session, other.email).active is True

    entries, _ = audit.list_entries(session, object_type="staff_user", object_id=other.id)
    assert sorted(e.action for e in entries) == ["staff.created", "staff.updated", "staff.updated", "staff.updated"]
    missing = console.post("/console/staff/stf_missing/disable", data={"csrf_token": csrf})
    assert missing.status_code == 404
    assert console.post(f"/console/staff/{other.id}/disable", data={"csrf_token": "nope"}).status_code == 403


def test_staff_are_listed_a_page_at_a_time(console, session):
    log_in(console, session, roles=["admin"])
    for n in range(30):
        make_staff(session, roles=["editor"], email=f"page{n:02d}@example.com")
    session.commit()
    first = console.get("/console/staff")
    assert first.status_code == 200 and "Next page" in first.text
    second = console.get(next_page_url(first.text))
    assert second.status_code == 200 and "page29@example.com" in second.text and "page00@example.com" not in second.text
    assert console.get("/console/staff?cursor=garbage").status_code == 422
