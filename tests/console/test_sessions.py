"""Console sessions: signed out after the idle timeout with a clear message, the password asked
again before admin changes (and the action carried on afterwards), login floods answered 429 with
Retry-After, and weak passwords refused on the staff page."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.staff.models import StaffSession, StaffUser
from tests.builders import STAFF_PASSWORD, make_staff
from tests.console.helpers import csrf_in, log_in

NEW = {"name": "Ruth Reviewer", "email": "ruth@example.com", "password": "a long enough passphrase", "roles": "editor"}


def _move_back(session, **minutes: int) -> None:
    session.rollback()  # a fresh read: end the test session's snapshot
    for row in session.exec(select(StaffSession)).all():
        for column, ago in minutes.items():
            setattr(row, column, utcnow() - timedelta(minutes=ago))
        session.add(row)
    session.commit()


def test_an_idle_console_session_sends_the_browser_to_the_login_page_saying_why(console, session) -> None:
    log_in(console, session, roles=["licensing"])
    _move_back(session, last_seen_at=31)
    response = console.get("/console/requests", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login?signed_out=idle"
    page = console.get(response.headers["location"])
    assert page.status_code == 200
    assert "You were signed out after 30 minutes without activity" in page.text
    assert "syndicate_console" not in console.cookies  # the dead session's cookie is gone


def test_console_activity_keeps_the_session(console, session) -> None:
    log_in(console, session, roles=["licensing"])
    _move_back(session, last_seen_at=29)
    assert console.get("/console/requests").status_code == 200
    _move_back(session, last_seen_at=29)
    assert console.get("/console/requests", follow_redirects=False).status_code == 200


def test_past_the_absolute_lifetime_the_login_page_says_so(console, session) -> None:
    log_in(console, session, roles=["licensing"])
    session.rollback()  # a fresh read: end the test session's snapshot
    for row in session.exec(select(StaffSession)).all():
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    session.commit()
    response = console.get("/console", follow_redirects=False)
    assert response.headers["location"] == "/console/login?signed_out=lifetime"
    assert "a session lasts at most 12 hours" in console.get(response.headers["location"]).text


def test_a_made_up_reason_shows_nothing(console) -> None:
    page = console.get("/console/login", params={"signed_out": "<script>alert(1)</script>"})
    assert page.status_code == 200 and "alert(1)" not in page.text and 'role="status"' not in page.text


def _hidden_fields(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)


def _form(fields: list[tuple[str, str]], **more: str) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in [*fields, *more.items()]:
        data.setdefault(name, []).append(value)
    return data


def test_creating_staff_asks_for_the_password_again_then_carries_on(console, session) -> None:
    csrf = log_in(console, session, roles=["admin"])
    _move_back(session, password_at=6)
    asked = console.post("/console/staff", data={**NEW, "csrf_token": csrf})
    assert asked.status_code == 403 and "Confirm your password" in asked.text
    assert 'action="/console/staff"' in asked.text
    fields = _hidden_fields(asked.text)
    assert ("email", NEW["email"]) in fields and ("roles", "editor") in fields and ("csrf_token", csrf) in fields
    session.rollback()  # a fresh read: end the test session's snapshot
    assert session.exec(select(StaffUser).where(StaffUser.email == NEW["email"])).first() is None

    wrong = console.post("/console/staff", data=_form(fields, reauth_password="not-my-password"))
    assert wrong.status_code == 403 and "not the password" in wrong.text and "Confirm your password" in wrong.text

    done = console.post("/console/staff", data=_form(fields, reauth_password=STAFF_PASSWORD), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/staff?done=created"
    session.rollback()  # a fresh read: end the test session's snapshot
    assert session.exec(select(StaffUser).where(StaffUser.email == NEW["email"])).one().roles == ["editor"]
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "staff.reauthenticated")).first() is not None
    # Confirmed for the next few minutes: the next admin change goes straight through.
    again = console.post("/console/staff", data={**NEW, "email": "second@example.com", "csrf_token": csrf},
                         follow_redirects=False)
    assert again.status_code == 303


def test_disabling_staff_and_retrying_outbox_messages_ask_too(console, session) -> None:
    csrf = log_in(console, session, roles=["admin"])
    other = make_staff(session, roles=["editor"])
    session.commit()
    _move_back(session, password_at=6)
    for action in (f"/console/staff/{other.id}/disable", "/console/operations/outbox/msg_nobody/retry"):
        asked = console.post(action, data={"csrf_token": csrf})
        assert asked.status_code == 403 and "Confirm your password" in asked.text, action
        assert f'action="{action}"' in asked.text
    session.rollback()  # a fresh read: end the test session's snapshot
    assert session.get(StaffUser, other.id).active is True


def test_licensing_changes_do_not_ask_for_the_password(console, session) -> None:
    """Only the admin permissions marked `reauthenticate` ask; the desk's daily work does not."""
    csrf = log_in(console, session, roles=["licensing"])
    _move_back(session, password_at=60)
    response = console.post("/console/requests/lrq_nobody/approve", data={"csrf_token": csrf})
    assert "Confirm your password" not in response.text


def test_a_weak_initial_password_is_refused_on_the_staff_page(console, session) -> None:
    csrf = log_in(console, session, roles=["admin"])
    response = console.post("/console/staff", data={**NEW, "password": "password1234", "csrf_token": csrf})
    assert response.status_code == 422 and "too easy to guess" in response.text


def test_console_login_floods_get_429_with_retry_after_and_a_human_message(settings, session) -> None:
    limited = settings.model_copy(update={"login_account_rate_limit": "2/15minutes"})
    app = create_app(limited, run_worker=False)
    user = make_staff(session, roles=["editor"], email=f"flood-{secrets.token_hex(4)}@example.com")
    session.commit()
    try:
        answers = []
        for password in ("wrong-1", "wrong-2", STAFF_PASSWORD):
            address = f"203.0.113.{secrets.randbelow(250) + 1}-{secrets.token_hex(4)}"
            with TestClient(app, base_url="https://testserver", raise_server_exceptions=False,
                            client=(address, 50000)) as browser:
                form = browser.get("/console/login")
                answers.append(browser.post("/console/login", data={
                    "email": user.email, "password": password, "csrf_token": csrf_in(form.text)}))
        assert [a.status_code for a in answers] == [401, 401, 429]
        refused = answers[-1]
        assert refused.headers["content-type"].startswith("text/html")
        assert 60 < int(refused.headers["retry-after"]) <= 900
        assert "failed log-ins" in refused.text and "retry in" in refused.text
    finally:
        app.state.engine.dispose()


def test_a_password_past_128_characters_is_refused_at_the_console_login(console, session) -> None:
    user = make_staff(session, roles=["editor"])
    session.commit()
    form = console.get("/console/login")
    response = console.post("/console/login", data={"email": user.email, "password": "y" * 200,
                                                    "csrf_token": csrf_in(form.text)})
    assert response.status_code == 422 and "at most 128 characters" in response.text


def test_changing_the_password_in_the_console(console, session) -> None:
    csrf = log_in(console, session, roles=["editor"])
    page = console.get("/console/password")
    assert page.status_code == 200 and 'autocomplete="new-password"' in page.text
    weak = console.post("/console/password", data={"csrf_token": csrf, "current_password": STAFF_PASSWORD,
                                                   "new_password": "qwertyuiop123"})
    assert weak.status_code == 422 and "too easy to guess" in weak.text
    wrong = console.post("/console/password", data={"csrf_token": csrf, "current_password": "not-it",
                                                    "new_password": "lantern orbit quietly folded"})
    assert wrong.status_code == 403 and "current password is wrong" in wrong.text
    done = console.post("/console/password", data={"csrf_token": csrf, "current_password": STAFF_PASSWORD,
                                                   "new_password": "lantern orbit quietly folded"},
                        follow_redirects=False)
    assert done.status_code == 303
    assert "Password changed" in console.get(done.headers["location"]).text
