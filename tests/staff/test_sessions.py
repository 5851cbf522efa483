"""Staff sessions as staff expect: an idle timeout renewed on activity, an absolute lifetime, the
password asked again before admin changes, logins throttled per account as well as per address,
and passwords that are not easy to guess. Time is driven by moving the stored timestamps (or by
the service's `now`), never by sleeping."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.staff import service as staff_service
from api.staff.errors import PasswordRejected, StaffSessionExpired
from api.staff.models import StaffSession
from tests.builders import STAFF_PASSWORD, make_staff, staff_headers

REDIS_URL = "redis://127.0.0.1:6379/15"


def _only_session(session) -> StaffSession:
    session.rollback()  # a fresh read: end the test session's snapshot
    return session.exec(select(StaffSession)).one()


def _move_back(session, **minutes: int) -> None:
    """Pretend that `last_seen_at` / `password_at` lie this many minutes in the past."""
    row = _only_session(session)
    for column, ago in minutes.items():
        setattr(row, column, utcnow() - timedelta(minutes=ago))
    session.add(row)
    session.commit()


# --- idle timeout and absolute lifetime ---------------------------------------------------------


def test_a_session_idle_past_the_timeout_ends_with_a_clear_401(client, session) -> None:
    headers = staff_headers(client, session, roles=["licensing"])
    _move_back(session, last_seen_at=31)
    response = client.get("/v1/staff/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/session-expired" and body["reason"] == "idle"
    assert "signed out after 30 minutes without activity" in body["detail"]


def test_activity_renews_the_idle_timeout(client, session) -> None:
    headers = staff_headers(client, session, roles=["licensing"])
    _move_back(session, last_seen_at=29)
    assert client.get("/v1/staff/me", headers=headers).status_code == 200
    renewed = _only_session(session).last_seen_at
    assert utcnow() - renewed < timedelta(seconds=30)  # the request moved it to now
    _move_back(session, last_seen_at=29)  # another 29 quiet minutes: 58 since login, still signed in
    assert client.get("/v1/staff/me", headers=headers).status_code == 200


def test_the_rules_follow_the_settings_with_an_injected_clock(session, settings) -> None:
    """The service takes `now`: 20 minutes of quiet end a 15-minute session; steady activity keeps
    one alive only until its absolute end (here 2 hours)."""
    rules = settings.model_copy(update={"staff_session_idle_minutes": 15, "staff_session_absolute_hours": 2})
    user = make_staff(session, roles=["editor"])
    session.commit()
    import asyncio

    token, opened, _ = asyncio.run(staff_service.login(session, rules, email=user.email, password=STAFF_PASSWORD))
    session.commit()
    start = opened.created_at
    staff_service.authenticate(session, rules, token, now=start + timedelta(minutes=14))  # renewed at 14
    with pytest.raises(StaffSessionExpired) as idle:
        staff_service.authenticate(session, rules, token, now=start + timedelta(minutes=29))
    assert idle.value.extra["reason"] == "idle" and "after 15 minutes without activity" in idle.value.detail
    moment = start + timedelta(minutes=14)
    while moment < start + timedelta(hours=2) - timedelta(minutes=14):
        moment += timedelta(minutes=14)
        staff_service.authenticate(session, rules, token, now=moment)  # renews: never 15 quiet minutes
    with pytest.raises(StaffSessionExpired) as past_end:
        staff_service.authenticate(session, rules, token, now=start + timedelta(hours=2, minutes=1))
    assert past_end.value.extra["reason"] == "lifetime" and "at most 2 hours" in past_end.value.detail


def test_the_token_lasts_as_long_as_the_absolute_lifetime(client, session, settings) -> None:
    user = make_staff(session, roles=["editor"])
    session.commit()
    login = client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD}).json()
    row = _only_session(session)
    assert row.expires_at - row.created_at == timedelta(hours=settings.staff_session_absolute_hours)
    assert login["expires_at"].startswith(row.expires_at.strftime("%Y-%m-%dT%H:%M"))


# --- re-authentication before admin changes ------------------------------------------------------


def test_creating_staff_wants_the_password_typed_recently(client, session) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    _move_back(session, password_at=6)
    new = {"email": "late@example.com", "name": "Late", "password": "a long enough passphrase", "roles": ["editor"]}
    refused = client.post("/v1/staff/users", headers=admin, json=new)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/reauthentication-required"
    assert problem["reauthenticate"] == "/v1/staff/reauthenticate" and problem["within_minutes"] == 5
    assert client.get("/v1/staff/users", headers=admin).status_code == 200  # reading needs no password

    wrong = client.post("/v1/staff/reauthenticate", headers=admin, json={"password": STAFF_PASSWORD + "x"})
    assert wrong.status_code == 403 and wrong.json()["type"] == "/problems/wrong-password"
    assert client.post("/v1/staff/users", headers=admin, json=new).status_code == 403

    confirmed = client.post("/v1/staff/reauthenticate", headers=admin, json={"password": STAFF_PASSWORD})
    assert confirmed.status_code == 200, confirmed.text
    assert "confirmed_until" in confirmed.json()
    assert client.post("/v1/staff/users", headers=admin, json=new).status_code == 201
    session.rollback()  # a fresh read: end the test session's snapshot
    audited = session.exec(select(AuditEntry).where(AuditEntry.action == "staff.reauthenticated")).all()
    assert len(audited) == 1 and audited[0].actor_type == "staff"


@pytest.mark.parametrize("method, path, body", [
    ("PATCH", "/v1/staff/users/stf_nobody", {"roles": ["editor"], "active": False}),
    ("POST", "/v1/staff/signing-keys/kid_nobody/retire", None),
    ("POST", "/v1/staff/outbox/msg_nobody/retry", None),
], ids=["change-roles-or-disable", "retire-signing-key", "outbox-retry"])
def test_other_admin_changes_want_it_too(client, session, method, path, body) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    _move_back(session, password_at=6)
    refused = client.request(method, path, headers=admin, json=body)
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/reauthentication-required"
    assert client.post("/v1/staff/reauthenticate", headers=admin, json={"password": STAFF_PASSWORD}).status_code == 200
    assert client.request(method, path, headers=admin, json=body).status_code == 404  # past the check: no such thing


def test_a_fresh_login_counts_as_typing_the_password(client, session) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    created = client.post("/v1/staff/users", headers=admin, json={
        "email": "fresh@example.com", "name": "Fresh", "password": "a long enough passphrase", "roles": ["editor"]})
    assert created.status_code == 201, created.text


# --- throttling per account and per address --------------------------------------------------------


@pytest.fixture(params=[False, True], ids=["in-process", "redis"])
def throttled(request, settings):
    """An app allowing 3 failed logins per e-mail in 15 minutes (counted in Redis or in process)."""
    limited = settings.model_copy(update={"login_account_rate_limit": "3/15minutes",
                                          "redis_url": REDIS_URL if request.param else None})
    app = create_app(limited, run_worker=False)
    yield app
    app.state.engine.dispose()


def _from(app, address: str | None = None) -> TestClient:
    address = address or f"198.51.100.{secrets.randbelow(250) + 1}-{secrets.token_hex(4)}"
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000))


def test_failed_logins_for_one_account_are_refused_whatever_the_address(throttled, session) -> None:
    user = make_staff(session, roles=["editor"], email=f"target-{secrets.token_hex(4)}@example.com")
    session.commit()
    for _ in range(3):  # each from a new address: the per-address limit never sees two
        wrong = _from(throttled).post("/v1/staff/login", json={"email": user.email, "password": "wrong-password"})
        assert wrong.status_code == 401
    refused = _from(throttled).post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD})
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/too-many-failed-logins"
    assert 60 < int(refused.headers["retry-after"]) <= 900
    other = make_staff(session, roles=["editor"])
    session.commit()
    assert _from(throttled).post("/v1/staff/login", json={"email": other.email, "password": STAFF_PASSWORD}
                                 ).status_code == 200  # other accounts are untouched


def test_an_unknown_address_is_refused_exactly_like_a_known_one(throttled, session) -> None:
    known = make_staff(session, roles=["editor"], email=f"known-{secrets.token_hex(4)}@example.com")
    session.commit()
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    answers = {}
    for email in (known.email, unknown):
        for _ in range(3):
            assert _from(throttled).post("/v1/staff/login", json={"email": email, "password": "x"}).status_code == 401
        answers[email] = _from(throttled).post("/v1/staff/login", json={"email": email, "password": "x"})
    first, second = answers[known.email], answers[unknown]
    assert first.status_code == second.status_code == 429
    assert first.json()["type"] == second.json()["type"]
    assert first.json()["detail"].split(";")[0] == second.json()["detail"].split(";")[0]


def test_a_successful_login_clears_the_failures(throttled, session) -> None:
    user = make_staff(session, roles=["editor"], email=f"clumsy-{secrets.token_hex(4)}@example.com")
    session.commit()
    client = _from(throttled)
    for _ in range(2):
        assert client.post("/v1/staff/login", json={"email": user.email, "password": "oops"}).status_code == 401
    assert client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD}).status_code == 200
    for _ in range(2):
        assert client.post("/v1/staff/login", json={"email": user.email, "password": "oops"}).status_code == 401
    assert client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD}).status_code == 200


def test_wrong_passwords_at_reauthentication_count_towards_the_account(throttled, session) -> None:
    user = make_staff(session, roles=["admin"], email=f"stolen-{secrets.token_hex(4)}@example.com")
    session.commit()
    client = _from(throttled)
    token = client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for _ in range(3):
        assert client.post("/v1/staff/reauthenticate", headers=headers, json={"password": "guess"}).status_code == 403
    refused = client.post("/v1/staff/reauthenticate", headers=headers, json={"password": STAFF_PASSWORD})
    assert refused.status_code == 429 and "retry-after" in refused.headers


# --- passwords ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop123", "iloveyou12345", "aaaaaaaaaaaaaaaa",
                                      "staffperson2026"])
def test_common_and_breached_passwords_are_refused(client, session, password) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    response = client.post("/v1/staff/users", headers=admin, json={
        "email": "staffperson@example.com", "name": "Staff Person", "password": password, "roles": ["editor"]})
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/password-rejected"
    assert "too easy to guess" in response.json()["detail"]


def test_passwords_past_128_characters_are_a_validation_problem(client, session) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    long = "correct horse battery staple " * 5  # 145 characters
    created = client.post("/v1/staff/users", headers=admin, json={
        "email": "long@example.com", "name": "Long", "password": long, "roles": ["editor"]})
    assert created.status_code == 422 and created.json()["type"] == "/problems/validation"
    with pytest.raises(PasswordRejected, match="at most 128"):
        staff_service.create_staff(session, email="long@example.com", name="Long", password=long, roles=["editor"])
    huge = client.post("/v1/staff/login", json={"email": "long@example.com", "password": "x" * 1_000_000})
    # Under the 1 MiB body cap, so the field's maximum refuses it, before any hashing.
    assert huge.status_code == 422 and huge.json()["type"] == "/problems/validation"
    login = client.post("/v1/staff/login", json={"email": "long@example.com", "password": "x" * 129})
    assert login.status_code == 422 and login.json()["type"] == "/problems/validation"


def test_the_demo_password_and_long_passphrases_are_accepted(session) -> None:
    from api.demo.loader import DEMO_PASSWORD

    user = staff_service.create_staff(session, email="demo@syndicate.local", name="Demo Admin",
                                      password=DEMO_PASSWORD, roles=["admin"])
    assert user.id
    staff_service.create_staff(session, email="max@example.com", name="Max", password="k9#vQ" * 25 + "zzz",
                               roles=["editor"])  # exactly 128 characters


def test_the_cli_refuses_a_common_password(cli_env) -> None:
    from tests.conftest import cli_runner
    from api.cli import app as cli

    result = cli_runner.invoke(cli, ["staff", "create", "--email", "cli@example.com", "--name", "Cli",
                                     "--role", "editor", "--password", "password1234"])
    assert result.exit_code != 0 and "too easy to guess" in result.output


# --- changing one's own password ---------------------------------------------------------------------


def test_changing_the_password_checks_both_and_ends_the_other_sessions(client, session) -> None:
    user = make_staff(session, roles=["finance"])
    session.commit()
    tokens = [client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD}).json()
              for _ in range(2)]
    this, other = ({"Authorization": f"Bearer {t['access_token']}"} for t in tokens)
    wrong = client.post("/v1/staff/me/password", headers=this,
                        json={"current_password": "nope", "new_password": "lantern orbit quietly folded"})
    assert wrong.status_code == 403 and wrong.json()["type"] == "/problems/wrong-password"
    weak = client.post("/v1/staff/me/password", headers=this,
                       json={"current_password": STAFF_PASSWORD, "new_password": "password123456"})
    assert weak.status_code == 422 and weak.json()["type"] == "/problems/password-rejected"
    changed = client.post("/v1/staff/me/password", headers=this,
                          json={"current_password": STAFF_PASSWORD, "new_password": "lantern orbit quietly folded"})
    assert changed.status_code == 204, changed.text
    assert client.get("/v1/staff/me", headers=this).status_code == 200
    ended = client.get("/v1/staff/me", headers=other)
    assert ended.status_code == 401 and ended.json()["reason"] == "ended"
    old = client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD})
    assert old.status_code == 401
    assert client.post("/v1/staff/login", json={"email": user.email, "password": "lantern orbit quietly folded"}
                       ).status_code == 200
    session.rollback()
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "staff.password_changed")).one()
